"""BatchNorm folded at the Keras level, and a one-channel stride-1 conv as a depthwise conv and a SUM:
the same images as Keras, in the ops XNNPACK runs."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from vaedge.export.fold_keras import _one_output_same, folded
from vaedge.export.tflite_facts import tflite_ops


def _decoder(last) -> keras.Model:
    """z (N, 2) -> Dense -> BN -> (7, 7, 8) -> stride-2 Conv2DTranspose + ReLU -> BN -> `last` -> sigmoid."""
    z = keras.Input((2,))
    h = layers.Dense(7 * 7 * 8, activation="relu")(z)
    h = layers.BatchNormalization()(h)
    h = layers.Reshape((7, 7, 8))(h)
    h = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.BatchNormalization()(h)
    model = keras.Model(z, last(h))
    rng = np.random.default_rng(0)
    for bn in (layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)):
        size = bn.gamma.shape[0]  # moving statistics that are not the identity, so the fold has work to do
        gamma, beta, mean, variance = (
            rng.uniform(0.5, 2, size),
            rng.normal(0, 1, size),
            rng.normal(0, 1, size),
            rng.uniform(0.5, 2, size),
        )
        bn.set_weights([gamma, beta, mean, variance])
    return model


ONE_CHANNEL = {
    "transposed 3x3": lambda: layers.Conv2DTranspose(1, 3, padding="same", activation="sigmoid"),
    "transposed 5x3": lambda: layers.Conv2DTranspose(1, (5, 3), padding="same", activation="sigmoid"),
    "conv 3x3": lambda: layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
}


@pytest.mark.parametrize("last", ONE_CHANNEL)
def test_a_one_channel_last_layer_becomes_a_depthwise_conv_and_a_sum(last):
    import tensorflow as tf

    model = _decoder(ONE_CHANNEL[last]())
    assert _one_output_same(model.layers[-1])
    call, folded_bn = folded(model, depthwise=True)
    assert len(folded_bn) == 2
    z = np.random.default_rng(1).standard_normal((16, 2)).astype(np.float32)
    want = np.asarray(model(z, training=False))
    assert np.abs(np.asarray(call(z)[0]) - want).max() < 1e-5

    function = tf.function(lambda z: call(z)[0], input_signature=[tf.TensorSpec((16, 2), tf.float32)])
    converted = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], function)
    ops = tflite_ops(converted.convert())
    assert ops.count("TRANSPOSE_CONV") == 1 and {"DEPTHWISE_CONV_2D", "SUM"} <= set(ops), ops
    assert "MUL" not in ops, ops


@pytest.mark.parametrize(
    "layer",
    [
        layers.Conv2DTranspose(1, 3, strides=2, padding="same"),  # stride 2: a TRANSPOSE_CONV does it well
        layers.Conv2DTranspose(3, 3, padding="same"),  # RGB: the sum over a 5-D reshape measured slower
        layers.Conv2DTranspose(1, 2, padding="same"),  # even kernel: 'same' pads a transposed conv differently
        layers.Conv2DTranspose(1, 3, padding="valid"),
        layers.Conv2D(1, 3, padding="same", dilation_rate=2),
    ],
    ids=["stride 2", "three channels", "even kernel", "valid", "dilated"],
)
def test_other_convolutions_keep_their_own_op(layer):
    model = _decoder(layer)
    assert not _one_output_same(model.layers[-1])
    call, _ = folded(model, depthwise=True)
    z = np.random.default_rng(2).standard_normal((4, 2)).astype(np.float32)
    assert np.abs(np.asarray(call(z)[0]) - np.asarray(model(z, training=False))).max() < 1e-5
