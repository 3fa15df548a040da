"""A real, tiny bundle built with onnx.helper: for runtime behaviour that a trained model can't pin down."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vaedge.runtime.manifest import MANIFEST, build_manifest, file_entry, tensor_specs

LATENT, SIDE = 2, 4


def make_bundle(root: Path, decoder_op: str = "Sigmoid", encoder_bytes: bytes | None = None, side: int = SIDE) -> Path:
    """Encoder: image (N, side, side, 1) -> flatten @ W -> z_mean, z_log_var. Decoder: op(z @ W) -> image."""
    from onnx import TensorProto, helper, numpy_helper

    root.mkdir(parents=True)
    pixels = side * side
    weight = numpy_helper.from_array(np.ones((pixels, LATENT), np.float32) / pixels, "w")
    shape = numpy_helper.from_array(np.array([-1, pixels], np.int64), "flat")
    encoder = helper.make_graph(
        [
            helper.make_node("Reshape", ["image", "flat"], ["x"]),
            helper.make_node("MatMul", ["x", "w"], ["z_mean"]),
            helper.make_node("Identity", ["z_mean"], ["z_log_var"]),
        ],
        "encoder",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", side, side, 1])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", LATENT]) for n in ("z_mean", "z_log_var")],
        [weight, shape],
    )
    back = numpy_helper.from_array(np.ones((LATENT, pixels), np.float32), "wt")
    out_shape = numpy_helper.from_array(np.array([-1, side, side, 1], np.int64), "img")
    decoder = helper.make_graph(
        [
            helper.make_node(decoder_op, ["z"], ["a"]),
            helper.make_node("MatMul", ["a", "wt"], ["b"]),
            helper.make_node("Sigmoid", ["b"], ["c"]),
            helper.make_node("Reshape", ["c", "img"], ["image"]),
        ],
        "decoder",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", LATENT])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", side, side, 1])],
        [back, out_shape],
    )
    for name, graph in (("encoder.onnx", encoder), ("decoder.onnx", decoder)):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        (root / name).write_bytes(
            model.SerializeToString() if name == "decoder.onnx" or encoder_bytes is None else encoder_bytes
        )
    files = []
    for role in ("encoder", "decoder"):
        inputs, outputs = tensor_specs(role, (side, side, 1), LATENT)
        files.append(
            file_entry(root, f"{role}.onnx", role=role, format="onnx", precision="fp32", inputs=inputs, outputs=outputs)
        )
    (root / MANIFEST).write_text(json.dumps(build_manifest((side, side, 1), LATENT, files)))
    return root
