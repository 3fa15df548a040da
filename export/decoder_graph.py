"""The decoder rebuilt layer by layer for integer engines: what the int8 TFLite and micro decoders convert.

The course decoder is Dense -> BN -> (Conv2DTranspose -> BN) x 2 -> Conv2DTranspose -> sigmoid, each BN
after a ReLU. Rebuilt here, with the same outputs as Keras to float rounding:
- each BN's scale goes into its producer's kernel and bias (ReLU commutes with a > 0) and its shift
  stays a per-channel ADD: C values, not the full bias map folding it forward makes (zero padding sees
  the shift at the borders);
- a stride-s transposed conv can run in sub-pixel form: PAD, a stride-1 CONV_2D with s*s*Cout
  channels, DEPTH_TO_SPACE. Same sums; int8 CONV_2D kernels are better kept than TRANSPOSE_CONV's;
- a transposed conv can be split by output channels so that TFLM's int32 scratch of each fits a budget;
- cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization"): ReLU is positively
  homogeneous, so dividing channel c of a producer (and its BN shift) by s_c and multiplying the next
  layer's input channel c by s_c changes nothing in float, while evening out the per-channel ranges
  that one int8 scale per tensor must cover. s_c comes from the channel's range on calibration latents.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from vaedge.export.subpixel import _phase_taps


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


def plan(model: keras.Model) -> list:
    """[(kind, layer, arrays...)]: linear layers with BN scales folded in, BN shifts as per-channel adds."""
    steps = []
    for layer in (lay for lay in model.layers if not isinstance(lay, layers.InputLayer)):
        if isinstance(layer, layers.BatchNormalization):
            a = np.asarray(layer.gamma) / np.sqrt(np.asarray(layer.moving_variance) + layer.epsilon)
            b = np.asarray(layer.beta) - np.asarray(layer.moving_mean) * a
            last = steps[-1] if steps else None
            if last and last[0] == "linear" and last[1].activation is keras.activations.relu and (a > 0).all():
                last[2], last[3] = last[2] * a.reshape(_out_shape(last[1], last[2])), last[3] * a
                steps.append(["add", layer, b.astype(np.float32)])
            else:
                steps.append(["affine", layer, a.astype(np.float32), b.astype(np.float32)])
        elif isinstance(layer, (layers.Dense, layers.Conv2DTranspose)) and layer.use_bias:
            steps.append(["linear", layer, np.asarray(layer.kernel, np.float32), np.asarray(layer.bias, np.float32)])
        else:
            steps.append(["layer", layer])
    return steps


def _out_shape(layer, kernel: np.ndarray) -> list:
    """Broadcast shape of a per-output-channel factor on `layer`'s kernel (Conv2DTranspose: (h, w, out, in))."""
    shape = [1] * kernel.ndim
    shape[2 if isinstance(layer, layers.Conv2DTranspose) else -1] = -1
    return shape


def _in_shape(layer, kernel: np.ndarray) -> list:
    """Broadcast shape of a per-input-channel factor on `layer`'s kernel (Dense: (in, out))."""
    shape = [1] * kernel.ndim
    shape[3 if isinstance(layer, layers.Conv2DTranspose) else 0] = -1
    return shape


def equalize(steps: list, model: keras.Model, latents: np.ndarray, strength: float) -> list:
    """`steps` with each (linear + ReLU, BN add) pair's channels rescaled so their ranges on `latents` (N, D)
    move toward the widest one: s_c = (range_c / max range) ** strength (0: unchanged, 1: all equal);
    the next linear layer takes s_c back. The same function in float."""
    if strength == 0:
        return steps
    steps = [list(step) for step in steps]
    pairs = [i for i, step in enumerate(steps) if step[0] == "add" and i > 0 and steps[i - 1][0] == "linear"]
    probe = keras.Model(model.input, [steps[i][1].input for i in pairs])
    relu_outputs = probe(latents.astype(np.float32), training=False)
    relu_outputs = relu_outputs if isinstance(relu_outputs, (list, tuple)) else [relu_outputs]
    for i, relu_out in zip(pairs, (np.asarray(r) for r in relu_outputs)):
        following = next((j for j in range(i + 1, len(steps)) if not _reshapes(steps[j])), None)
        if following is None or steps[following][0] != "linear":
            continue  # only a linear layer, through reshapes, can take the factors back exactly
        producer, consumer = steps[i - 1], steps[following]
        channels = consumer[2].shape[_in_shape(consumer[1], consumer[2]).index(-1)]
        scale = np.asarray(steps[i][1].gamma) / np.sqrt(np.asarray(steps[i][1].moving_variance) + steps[i][1].epsilon)
        # the producer's folded output (relu_out * a), its range per channel of the consumer's input:
        # max |x * a| over the rows is max |x| times |a|, a being constant per position
        peak = np.abs(relu_out.reshape(len(latents), -1)).max(axis=0)
        folded = peak * np.abs(np.tile(scale, relu_out[0].size // scale.size))
        spread = folded.reshape(-1, channels).max(axis=0)
        s = np.maximum(spread / max(float(spread.max()), 1e-30), 1e-3) ** strength
        units = np.tile(s, producer[2].shape[_out_shape(producer[1], producer[2]).index(-1)] // channels)
        producer[2] = producer[2] / units.reshape(_out_shape(producer[1], producer[2]))
        producer[3] = producer[3] / units
        steps[i][2] = steps[i][2] / units
        consumer[2] = consumer[2] * s.reshape(_in_shape(consumer[1], consumer[2]))
    return steps


def _reshapes(step) -> bool:
    return step[0] == "layer" and isinstance(step[1], (layers.Reshape, layers.Flatten))


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


def decoder_function(
    source,
    batch: int = 1,
    subpixel=False,
    scratch: int | None = None,
    dense_bias_row: bool = False,
    equalized: tuple[np.ndarray, float] | None = None,
    logit_shift: np.ndarray | None = None,
):
    """tf.function: z (batch, D) float32 -> {image} (batch, H, W, C) with BN folded per channel; transposed
    convs in sub-pixel form (`subpixel`: True, or the layer names) or split by output channels so that each
    TRANSPOSE_CONV's int32 scratch fits `scratch` bytes; with `equalized` = (latents (N, D), strength) the
    channels equalized on those latents; `logit_shift` (C,) is taken off the last layer's bias (bias
    correction: what int8 rounding adds to the logits on average). Else the same outputs as Keras."""
    steps = plan(source.decoder)
    if equalized is not None:
        steps = equalize(steps, source.decoder, *equalized)
    if logit_shift is not None:
        last = [step for step in steps if step[0] == "linear"][-1]
        last[3] = (last[3] - np.asarray(logit_shift, np.float32)).astype(np.float32)
    spec = tf.TensorSpec((batch, source.latent_dim), tf.float32, name="z")

    @tf.function(input_signature=[spec])
    def decode(z):
        x = z
        for kind, layer, *arrays in steps:
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
