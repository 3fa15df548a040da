"""The decoder rebuilt for TensorFlow Lite Micro's memory: what `vaedge export --micro` converts at batch 1.

Measured on TFLM (docs/micro.md), the plain int8 decoder needs a 163 KiB arena and 190 KiB of flash:
- TFLM's int8 TRANSPOSE_CONV keeps an int32 scratch of its whole output (98 KiB for 28x28x32). The
  sub-pixel form (PAD, then a stride-1 CONV_2D with s*s*Cout channels, then DEPTH_TO_SPACE) computes
  the same sums with no scratch; a stride-1 transposed conv is a CONV_2D with the kernel flipped.
- BatchNorm after ReLU folded forward becomes full bias maps (14x14x64, 28x28x32 int8) because the
  next layer's zero padding sees the shift at the borders. Here its scale goes into the producer's
  kernel (ReLU commutes with a > 0) and its shift stays a per-channel ADD: C values, not a map.
- The 2 -> 3136 Dense quantized per channel carries 3136 scales and zero points for its weights and
  bias in the file (75 KB) and 3136 multipliers and shifts in the arena (25 KB); per-tensor it needs one
  (`to_tflite(per_channel_dense=False)`).
Exact in float: `micro_decoder_function` matches Keras to float rounding (checked at export).

What is kept (each route measured in docs/micro.md): the last upsampling layer, whose output is the
largest and whose weights are the smallest, in sub-pixel form; every other transposed conv split by
output channels into TRANSPOSE_CONVs whose scratch fits SCRATCH_BUDGET (the sub-pixel kernel holds
zero taps: 16 weights where the transposed conv has 9, too much flash for the 64-channel layer);
the Dense's bias as one more int8 weight row on a constant 1 (FULLY_CONNECTED's int32 bias is 4 bytes
a unit); the Dense quantized per tensor.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from vaedge.errors import ExportError
from vaedge.export.subpixel import _phase_taps

SCRATCH_BUDGET = 16 * 1024  # bytes of int32 scratch per TRANSPOSE_CONV
FLOAT_GATE = 1e-5  # max abs difference to Keras in float, before quantization


def _same_pad_before(kernel: int, stride: int) -> int:
    """TF's SAME padding before the input of the forward conv a transposed conv is the gradient of."""
    return max(kernel - stride, 0) // 2


def subpixel_kernel(kernel: np.ndarray, stride: int) -> tuple[np.ndarray, list]:
    """Conv2DTranspose kernel (kh, kw, out, in), SAME, `stride` -> (CONV_2D filter (L, L, in, s*s*out),
    [[top, bottom], [left, right]] zero padding) with DEPTH_TO_SPACE(s) after it giving the same output."""
    kh, kw, c_out, c_in = kernel.shape
    rows = _phase_taps(kh, stride, _same_pad_before(kh, stride))
    cols = _phase_taps(kw, stride, _same_pad_before(kw, stride))
    lo_h, hi_h = min(d for p in rows for d, _ in p), max(d for p in rows for d, _ in p)
    lo_w, hi_w = min(d for p in cols for d, _ in p), max(d for p in cols for d, _ in p)
    merged = np.zeros((hi_h - lo_h + 1, hi_w - lo_w + 1, c_in, stride * stride * c_out), np.float32)
    for a, row_taps in enumerate(rows):
        for b, col_taps in enumerate(cols):
            phase = slice((a * stride + b) * c_out, (a * stride + b + 1) * c_out)
            for dh, th in row_taps:
                for dw, tw in col_taps:
                    merged[dh - lo_h, dw - lo_w, :, phase] = kernel[th, tw].T
    return merged, [[-lo_h, hi_h], [-lo_w, hi_w]]


def _plan(model: keras.Model) -> list:
    """[(kind, layer, arrays...)]: linear layers with BN scales folded in, BN shifts as per-channel adds."""
    plan = []
    for layer in (lay for lay in model.layers if not isinstance(lay, layers.InputLayer)):
        if isinstance(layer, layers.BatchNormalization):
            a = np.asarray(layer.gamma) / np.sqrt(np.asarray(layer.moving_variance) + layer.epsilon)
            b = np.asarray(layer.beta) - np.asarray(layer.moving_mean) * a
            last = plan[-1] if plan else None
            if last and last[0] == "linear" and last[1].activation is keras.activations.relu and (a > 0).all():
                out_axis = 2 if isinstance(last[1], layers.Conv2DTranspose) else -1
                shape = [1] * last[2].ndim
                shape[out_axis] = -1
                last[2], last[3] = last[2] * a.reshape(shape), last[3] * a
                plan.append(["add", layer, b.astype(np.float32)])
            else:
                plan.append(["affine", layer, a.astype(np.float32), b.astype(np.float32)])
        elif isinstance(layer, (layers.Dense, layers.Conv2DTranspose)) and layer.use_bias:
            plan.append(["linear", layer, np.asarray(layer.kernel, np.float32), np.asarray(layer.bias, np.float32)])
        else:
            plan.append(["layer", layer])
    return plan


def scratch_groups(height: int, width: int, channels: int, budget: int) -> int:
    """The fewest output-channel groups (a divisor of `channels`) whose int32 scratch, H*W*C/g*4 bytes,
    fits `budget`; `channels` (one channel a group) when none does."""
    fits = (g for g in range(1, channels + 1) if channels % g == 0 and height * width * channels // g * 4 <= budget)
    return next(fits, channels)


def _linear(layer, kernel: np.ndarray, bias: np.ndarray, x, subpixel, scratch: int | None, bias_row: bool = False):
    if isinstance(layer, layers.Dense):
        if bias_row:  # FULLY_CONNECTED's int32 bias is 4 bytes a unit; as a weight row on a constant 1, one int8
            ones = tf.ones((x.shape[0], 1), x.dtype)
            return layer.activation(tf.matmul(tf.concat([x, ones], axis=1), np.concatenate([kernel, bias[None]])))
        return layer.activation(tf.matmul(x, kernel) + bias)
    if not isinstance(subpixel, bool):
        subpixel = layer.name in subpixel
    stride, size = layer.strides[0], kernel.shape[0]
    supported = (
        layer.padding == "same"
        and layer.strides[0] == layer.strides[1]
        and kernel.shape[0] == kernel.shape[1]
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.output_padding is None
    )
    if not (subpixel and supported):
        n, h, w, _ = x.shape
        groups = 1 if scratch is None else scratch_groups(h * stride, w * stride, kernel.shape[2], scratch)
        parts = []
        for k, b in zip(np.split(kernel, groups, axis=2), np.split(bias, groups)):  # one TRANSPOSE_CONV each
            shape = (n, h * stride, w * stride, k.shape[2])
            parts.append(layer.activation(tf.nn.conv2d_transpose(x, k, shape, stride, "SAME") + b))
        return parts[0] if groups == 1 else tf.concat(parts, axis=-1)
    if stride == 1 and size % 2 == 1:  # a stride-1 transposed conv is a conv with the kernel flipped
        flipped = np.ascontiguousarray(kernel[::-1, ::-1].transpose(0, 1, 3, 2))
        return layer.activation(tf.nn.conv2d(x, flipped, 1, "SAME") + bias)
    merged, pads = subpixel_kernel(kernel, stride)
    x = tf.pad(x, [[0, 0], *pads, [0, 0]])
    x = layer.activation(tf.nn.conv2d(x, merged, 1, "VALID") + np.tile(bias, stride * stride))
    return tf.nn.depth_to_space(x, stride)


def last_upsampling(model: keras.Model) -> tuple[str, ...]:
    """The name of the model's last Conv2DTranspose with a stride above 1 (none: ())."""
    strided = [lay.name for lay in model.layers if isinstance(lay, layers.Conv2DTranspose) and max(lay.strides) > 1]
    return tuple(strided[-1:])


def micro_decoder_function(
    source, batch: int = 1, subpixel=False, scratch: int | None = None, dense_bias_row: bool = False
):
    """tf.function: z (batch, D) float32 -> {image} (batch, H, W, C) with BN folded per channel; transposed
    convs in sub-pixel form (`subpixel`: True, or the layer names) or split by output channels so that
    each TRANSPOSE_CONV's int32 scratch fits `scratch` bytes; the same outputs as the Keras decoder."""
    plan = _plan(source.decoder)
    spec = tf.TensorSpec((batch, source.latent_dim), tf.float32, name="z")

    @tf.function(input_signature=[spec])
    def decode(z):
        x = z
        for kind, layer, *arrays in plan:
            if kind == "linear":
                x = _linear(layer, *arrays, x, subpixel, scratch, dense_bias_row and isinstance(layer, layers.Dense))
            elif kind == "add":
                x = x + arrays[0]
            elif kind == "affine":
                x = x * arrays[0] + arrays[1]
            else:
                x = layer(x, training=False)
        return {"image": x}

    return decode


def write_micro_decoder(stage, source, entries: list, latents: np.ndarray) -> list:
    """Rebuild the bundle's int8-I/O batch-1 decoder in `stage` in the micro form above, calibrated on
    `latents` (N, D); return `entries` with its manifest fields replaced. ExportError if the float
    graph differs from Keras by more than FLOAT_GATE."""
    from vaedge.export import convert
    from vaedge.export.tflite_facts import facts
    from vaedge.export.tflite_graphs import (
        _with_dtypes,
        calibration_batches,
        tflite_name,
    )
    from vaedge.io import atomic
    from vaedge.runtime.manifest import tensor_specs

    name = tflite_name("decoder", 1, "int8io")
    function = micro_decoder_function(
        source, 1, subpixel=last_upsampling(source.decoder), scratch=SCRATCH_BUDGET, dense_bias_row=True
    )
    probe = latents[:16].astype(np.float32)
    ours = np.concatenate([np.asarray(function(probe[i : i + 1])["image"]) for i in range(len(probe))])
    difference = float(np.max(np.abs(ours - np.asarray(source.decoder(probe, training=False)))))
    if not difference <= FLOAT_GATE:
        raise ExportError(
            f"{name}: the micro decoder differs from Keras by {difference:.3g} in float (gate {FLOAT_GATE:g})"
        )
    model = convert.to_tflite(
        function, calibration=calibration_batches(latents, 1), int8_io=True, per_channel_dense=False
    )
    fields = facts(model)
    atomic.write_bytes(stage / name, model)
    inputs, outputs = tensor_specs("decoder", source.image_shape, source.latent_dim, batch=1)
    quantization = fields.get("quantization", {})
    entry = dict(
        role="decoder",
        format="tflite",
        precision="int8",
        inputs=_with_dtypes(inputs, quantization),
        outputs=_with_dtypes(outputs, quantization),
        **fields,
    )
    return [(n, entry if n == name else f) for n, f in entries]
