"""BatchNorm folded at the Keras level, for TF's TFLite converter (which folds only BN *before* an
activation, so the course's post-ReLU BN stays a MUL + ADD per layer).

The same algebra as export/fold.py on ONNX: with BN(h) = a * h + b after `relu(linear(x))`,
- `relu(y) * a == relu(y * a)` for a > 0: `a` scales the producer's kernel and bias;
- the next layer L is linear: `L(h + b) == L(h) + L(b)`. `L(b)` (b broadcast over L's input) is
  computed once; it becomes L's bias when it is the same at every position, else a constant map
  added before L's activation (zero padding: borders see fewer taps; stride 2: a 2x2 pattern).
A BN that does not fit (a scale <= 0, a consumer that is not linear) runs as it is.

With `depthwise=True` (the fp32 TFLite graphs), a stride-1 convolution with one output channel (the
course decoder's last layer) is written as a depthwise convolution and a sum over channels: the same
sums, which XNNPACK runs several times faster than the one-column GEMM of a TRANSPOSE_CONV or CONV_2D
(docs/benchmarks.md). Only one output channel: for an RGB output the sum over a 5-D reshape is slower.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

LINEAR = (layers.Dense, layers.Conv2D, layers.Conv2DTranspose)
RESHAPES = (layers.Reshape, layers.Flatten)


def _linear(layer, x, kernel):
    if isinstance(layer, layers.Dense):
        return ops.matmul(x, kernel)
    if isinstance(layer, layers.Conv2DTranspose):
        return ops.conv_transpose(
            x, kernel, layer.strides, layer.padding, layer.output_padding, layer.data_format, layer.dilation_rate
        )
    return ops.conv(x, kernel, layer.strides, layer.padding, layer.data_format, layer.dilation_rate)


def _one_output_same(layer) -> bool:
    """A stride-1, undilated, 'same'-padded Conv2D or Conv2DTranspose with one output channel and an
    odd kernel, for which a transposed conv is the plain conv of its kernel flipped in space."""
    return (
        isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose))
        and layer.filters == 1
        and getattr(layer, "groups", 1) == 1
        and tuple(layer.strides) == (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.padding == "same"
        and layer.data_format == "channels_last"
        and getattr(layer, "output_padding", None) is None
        and all(k % 2 == 1 for k in layer.kernel_size)
    )


def _as_depthwise(layer, x, kernel: np.ndarray):
    """`layer`'s linear part on x (N, H, W, C) as a depthwise conv (C channels) summed over C: (N, H, W, 1)."""
    if isinstance(layer, layers.Conv2DTranspose):  # (h, w, 1, C) -> the conv kernel (h, w, C, 1)
        kernel = kernel[::-1, ::-1].transpose(0, 1, 3, 2)
    out = ops.depthwise_conv(x, ops.convert_to_tensor(np.ascontiguousarray(kernel, np.float32)), 1, "same")
    return ops.sum(out, axis=-1, keepdims=True)


def _consumers(model, tensor) -> list:
    return [layer for layer in model.layers if not isinstance(layer, layers.InputLayer) and layer.input is tensor]


def _plan(model) -> tuple[dict, set]:
    """({layer name: [kernel, bias, map or None]}, names of folded BN layers)."""
    weights = {
        layer.name: [np.asarray(layer.kernel), np.asarray(layer.bias) if layer.use_bias else None, None]
        for layer in model.layers
        if isinstance(layer, LINEAR) and getattr(layer, "groups", 1) == 1
    }
    folded = set()
    for bn in model.layers:
        if (
            not isinstance(bn, layers.BatchNormalization)
            or bn.axis not in (-1, len(bn.input.shape) - 1)
            or not bn.center
            or not bn.scale
        ):
            continue
        producer = bn.input._keras_history.operation
        if (
            producer.name not in weights
            or producer.activation is not keras.activations.relu
            or weights[producer.name][1] is None
            or len(_consumers(model, bn.input)) != 1
        ):
            continue
        a = np.asarray(bn.gamma) / np.sqrt(np.asarray(bn.moving_variance) + bn.epsilon)
        b = np.asarray(bn.beta) - np.asarray(bn.moving_mean) * a
        chain, frontier = [], [bn.output]
        while frontier:  # follow Reshape/Flatten to the linear layers that take the shifted values
            for layer in _consumers(model, frontier.pop()):
                (frontier.append(layer.output) if isinstance(layer, RESHAPES) else chain.append(layer))
        if (a <= 0).any() or not chain or not all(c.name in weights for c in chain):
            continue
        kernel, bias, shift_map = weights[producer.name]
        # output channels: the kernel's last axis (Dense, Conv2D); Conv2DTranspose's kernel is (h, w, out, in)
        scaled = kernel * a[:, None] if isinstance(producer, layers.Conv2DTranspose) else kernel * a
        weights[producer.name] = [scaled, bias * a, None if shift_map is None else shift_map * a]
        shift = np.broadcast_to(b, (1, *bn.output.shape[1:])).astype(np.float32)
        for consumer in chain:
            delta = np.asarray(
                _linear(consumer, shift.reshape((1, *consumer.input.shape[1:])), weights[consumer.name][0])
            )[0]
            channels = delta.reshape(-1, delta.shape[-1])
            if np.abs(channels - channels[0]).max() <= 1e-7 * max(1.0, np.abs(channels).max()):
                c_bias = weights[consumer.name][1]
                weights[consumer.name][1] = channels[0] + (c_bias if c_bias is not None else 0)
            else:
                previous = weights[consumer.name][2]
                weights[consumer.name][2] = delta if previous is None else previous + delta
        folded.add(bn.name)
    return weights, folded


def folded(model: keras.Model, depthwise: bool = False):
    """A function with `model`'s inputs and outputs (inference mode) in which every BatchNorm that
    folds exactly is gone: x -> list of outputs; `depthwise` as in the module's docstring."""
    weights, folded_bn = _plan(model)

    def call(x):
        values = {id(model.inputs[0]): x}
        for layer in model.layers:
            if isinstance(layer, layers.InputLayer):
                continue
            h = values[id(layer.input)]
            if layer.name in folded_bn:
                out = h
            elif layer.name in weights and isinstance(layer, LINEAR):
                kernel, bias, shift_map = weights[layer.name]
                if depthwise and _one_output_same(layer):
                    out = _as_depthwise(layer, h, kernel)
                else:
                    out = _linear(layer, h, ops.convert_to_tensor(kernel))
                if bias is not None:
                    out = out + ops.convert_to_tensor(bias.astype(np.float32))
                if shift_map is not None:
                    out = out + ops.convert_to_tensor(shift_map.astype(np.float32))
                out = layer.activation(out)
            else:
                out = layer(h, training=False)
            values[id(layer.output)] = out
        return [values[id(t)] for t in model.outputs]

    return call, sorted(folded_bn)
