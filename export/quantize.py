"""fp16 and int8 variants of an optimised ONNX graph, with onnxruntime's own tools.

Inputs and outputs stay float32 in every variant, and the final Sigmoid stays in float32, so a
variant is a drop-in replacement for the fp32 graph.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import onnx

from vaedge.runtime.parity import PSNR_GATE, psnr


def calibration_data(source, train_images: np.ndarray, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """int8 calibration feeds per role. Encoder: real training images (N, H, W, C). Decoder: prior
    samples and posterior samples of those images, interleaved (2N, D): the latents a decoder really
    meets, both kinds in any first rows (a trained encoder's posteriors reach well beyond the prior's)."""
    from vaedge.runtime.sampling import host_sample, portable_eps

    encoded = source.encoder(train_images, training=False)
    z_mean, z_log_var = (np.asarray(encoded[k], np.float32) for k in ("z_mean", "z_log_var"))
    posterior = host_sample(z_mean, z_log_var, portable_eps(len(z_mean), source.latent_dim, seed + 2))
    prior = portable_eps(len(z_mean), source.latent_dim, seed + 3)
    latents = np.stack([prior, posterior], axis=1).reshape(-1, source.latent_dim)
    return {"encoder": {"image": train_images}, "decoder": {"z": latents}}


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Weights and activations in float16; float32 graph inputs/outputs and Sigmoid."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    return convert_float_to_float16(model, keep_io_types=True, op_block_list=["Sigmoid"], disable_shape_infer=False)


class _Calibration:
    """onnxruntime CalibrationDataReader over {input name: (N, ...)} arrays, in batches."""

    def __init__(self, feeds: dict[str, np.ndarray], batch: int = 64):
        name, data = next(iter(feeds.items()))
        self.batches = iter([{name: data[i : i + batch]} for i in range(0, len(data), batch)])

    def get_next(self):
        return next(self.batches, None)


def to_int8(model: onnx.ModelProto, calibration: dict[str, np.ndarray]) -> onnx.ModelProto:
    """Static QDQ quantization: int8 per-channel weights, uint8 activations calibrated on real data.

    When that misses the PSNR gate on the calibration data itself, the fully-connected layers stay
    float and the convolutions int8, if that does better. A trained model can hold a unit that is
    nearly dead (its ReLU output almost always 0): its BatchNorm variance is then tiny, the scale folded
    back into its Dense layer huge (a bias of -1382 in a 30-epoch encoder, next to others within ±2),
    and one uint8 range for that layer's outputs leaves the other units a few steps each."""
    sigmoid = [n.name for n in model.graph.node if n.op_type == "Sigmoid"]
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(logging.ERROR)  # quantize_static warns about optional pre-processing on root
    try:
        quantized = _quantize_static(model, calibration, sigmoid)
        feeds = {name: data[:256] for name, data in calibration.items()}
        reference = _run(model, feeds)  # the fp32 outputs, computed once for both candidates
        worst = _worst_psnr(reference, _run(quantized, feeds))
        dense = fully_connected_nodes(model)
        if worst >= PSNR_GATE or not dense:
            return quantized
        fallback = _quantize_static(model, calibration, sigmoid + dense)
        return fallback if _worst_psnr(reference, _run(fallback, feeds)) > worst else quantized
    finally:
        root_logger.setLevel(level)


def fully_connected_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of each MatMul/Gemm with the bias Add and Relu that directly follow it."""
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    names = []
    for node in model.graph.node:
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        names.append(node.name)
        current = node
        while len(consumers.get(current.output[0], [])) == 1:
            (current,) = consumers[current.output[0]]
            if current.op_type not in ("Add", "Relu"):
                break
            names.append(current.name)
    return names


def worst_psnr(model: onnx.ModelProto, quantized: onnx.ModelProto, calibration: dict[str, np.ndarray]) -> float:
    """The lowest PSNR (dB, the parity gate's measure) over the outputs of `quantized` against `model`
    on the calibration feed."""
    feeds = {name: data[:256] for name, data in calibration.items()}
    return _worst_psnr(_run(model, feeds), _run(quantized, feeds))


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString()).run(None, feeds)


def _worst_psnr(expected: list[np.ndarray], actual: list[np.ndarray]) -> float:
    return min(psnr(a, e) for e, a in zip(expected, actual))


def _quantize_static(model: onnx.ModelProto, calibration, sigmoid: list[str]) -> onnx.ModelProto:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, source)
        quantize_static(
            str(source),
            str(target),
            _Calibration(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=sigmoid,
        )
        return onnx.load(target)
