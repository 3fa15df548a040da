"""A real bundle with a 4-D latent space, built with onnx.helper: the page's sliders need D > 2, and a
trained run with D = 2 is what the other tests share.

Encoder: image (N, 28, 28, 1) -> flatten -> z_mean = x @ W + b, z_log_var = x @ V. Decoder:
z (N, 4) -> sigmoid(z @ U + c) -> image. W's columns are scaled by SCALES, so over uniform random
images the variance of z_mean's dims ranks them 1, 3, 0, 2; parity.npz holds real encoder outputs.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from vaedge.runtime.manifest import MANIFEST, build_manifest, file_entry, tensor_specs

SHAPE, LATENT = (28, 28, 1), 4
SCALES = np.array([0.3, 2.0, 0.1, 1.0], np.float32)
ORDER = [1, 3, 0, 2]


def make_wide_bundle(root: Path, seed: int = 0) -> Path:
    """Write the bundle (encoder.onnx, decoder.onnx, parity.npz, vaedge.json) into a new `root`."""
    from onnx import TensorProto, helper, numpy_helper

    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    pixels = int(np.prod(SHAPE))
    weights = {
        "w": (rng.standard_normal((pixels, LATENT)) * SCALES / np.sqrt(pixels) * 3).astype(np.float32),
        "b": rng.standard_normal(LATENT).astype(np.float32),
        "v": (rng.standard_normal((pixels, LATENT)) / pixels).astype(np.float32),
        "u": (rng.standard_normal((LATENT, pixels)) * 1.5).astype(np.float32),
        "c": rng.standard_normal(pixels).astype(np.float32),
    }
    shapes = {"flat": np.array([-1, pixels], np.int64), "img": np.array([-1, *SHAPE], np.int64)}
    init = [numpy_helper.from_array(v, k) for k, v in {**weights, **shapes}.items()]
    latent = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", LATENT]) for n in ("z_mean", "z_log_var")]
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", *SHAPE])
    encoder = helper.make_graph(
        [
            helper.make_node("Reshape", ["image", "flat"], ["x"]),
            helper.make_node("MatMul", ["x", "w"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["z_mean"]),
            helper.make_node("MatMul", ["x", "v"], ["z_log_var"]),
        ],
        "encoder",
        [image],
        latent,
        [i for i in init if i.name in ("w", "b", "v", "flat")],
    )
    decoder = helper.make_graph(
        [
            helper.make_node("MatMul", ["z", "u"], ["zu"]),
            helper.make_node("Add", ["zu", "c"], ["logits"]),
            helper.make_node("Sigmoid", ["logits"], ["pixels"]),
            helper.make_node("Reshape", ["pixels", "img"], ["image"]),
        ],
        "decoder",
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", LATENT])],
        [image],
        [i for i in init if i.name in ("u", "c", "img")],
    )
    for name, graph in (("encoder.onnx", encoder), ("decoder.onnx", decoder)):
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        (root / name).write_bytes(model.SerializeToString())

    images = rng.random((64, *SHAPE), dtype=np.float32)
    flat = images.reshape(len(images), -1)
    buffer = io.BytesIO()
    np.savez(buffer, images=images, z_mean=flat @ weights["w"] + weights["b"], z_log_var=flat @ weights["v"])
    (root / "parity.npz").write_bytes(buffer.getvalue())

    files = []
    for role in ("encoder", "decoder"):
        inputs, outputs = tensor_specs(role, SHAPE, LATENT)
        files.append(
            file_entry(root, f"{role}.onnx", role=role, format="onnx", precision="fp32", inputs=inputs, outputs=outputs)
        )
    files.append(file_entry(root, "parity.npz", role="parity", format="npz", precision="fp32"))
    (root / MANIFEST).write_text(json.dumps(build_manifest(SHAPE, LATENT, files)))
    return root
