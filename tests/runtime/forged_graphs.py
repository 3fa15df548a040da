"""ONNX graphs forged the way an attacker who knows the format would: external data pointing outside
the bundle, a re-sealed manifest. Used by the runtime's and the web site's hostile-input tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.runtime.tiny_bundle import LATENT, SIDE, make_bundle
from vaedge.runtime.manifest import build_manifest, file_entry, tensor_specs


def reseal(root: Path, image_shape: tuple = (SIDE, SIDE, 1), latent_dim: int = LATENT) -> None:
    """Rewrite the manifest for the graphs now in `root`, as an attacker who knows the format would."""
    files = [
        file_entry(
            root,
            f"{r}.onnx",
            role=r,
            format="onnx",
            precision="fp32",
            **dict(zip(("inputs", "outputs"), tensor_specs(r, image_shape, latent_dim))),
        )
        for r in ("encoder", "decoder")
    ]
    (root / "vaedge.json").write_text(json.dumps(build_manifest(image_shape, latent_dim, files)))


def external(tensor, location: str) -> None:
    from onnx import TensorProto

    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.ClearField("int64_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "32")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value


def forge_initializer(model, location):
    external(next(t for t in model.graph.initializer if t.name == "wt"), location)


def forge_constant(model, location):
    from onnx import helper, numpy_helper

    tensor = numpy_helper.from_array(np.ones((LATENT, SIDE * SIDE), np.float32), "wt")
    external(tensor, location)
    model.graph.initializer.remove(next(t for t in model.graph.initializer if t.name == "wt"))
    model.graph.node.insert(0, helper.make_node("Constant", [], ["wt"], value=tensor))


def forge_flag_only(model, location):
    from onnx import TensorProto

    next(t for t in model.graph.initializer if t.name == "wt").data_location = TensorProto.EXTERNAL


def forge_sparse(model, location):
    from onnx import helper, numpy_helper

    values = numpy_helper.from_array(np.ones(1, np.float32), "wt")
    external(values, location)
    indices = numpy_helper.from_array(np.zeros(1, np.int64), "wt_i")
    model.graph.initializer.remove(next(t for t in model.graph.initializer if t.name == "wt"))
    model.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, [LATENT, SIDE * SIDE]))


FORGERIES = {
    "initializer, absolute path": (forge_initializer, "/etc/passwd"),
    "initializer, relative path": (forge_initializer, "../../../../../../etc/passwd"),
    "initializer, file beside it": (forge_initializer, "vaedge.json"),
    "Constant attribute": (forge_constant, "/etc/passwd"),
    "sparse initializer": (forge_sparse, "/etc/passwd"),
    "EXTERNAL flag alone": (forge_flag_only, ""),
}


def external_data_bundle(root: Path, forgery: str) -> Path:
    """A synthetic bundle at `root` whose decoder.onnx holds FORGERIES[forgery], manifest re-sealed."""
    import onnx

    root = make_bundle(root)
    model = onnx.load_from_string((root / "decoder.onnx").read_bytes())
    forge, location = FORGERIES[forgery]
    forge(model, location)
    (root / "decoder.onnx").write_bytes(model.SerializeToString())
    reseal(root)
    return root
