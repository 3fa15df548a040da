"""Export of models a course student already has, and of a 64x64x3 model (killed and forced exports:
tests/export/test_faults.py)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf
from typer.testing import CliRunner

from vaedge.cli import app
from vaedge.errors import InputError
from vaedge.runtime.manifest import read_manifest
from vaedge.runtime.parity import validate_stored

runner = CliRunner()


def pair_export(tmp_path, data, out, *extra) -> list[str]:
    """`vaedge export` arguments for the encoder and decoder saved as tmp_path/enc.keras and dec.keras."""
    encoder, decoder = str(tmp_path / "enc.keras"), str(tmp_path / "dec.keras")
    return ["export", "--encoder", encoder, "--decoder", decoder, "--data", str(data), "--out", str(out), *extra]


# The course notebook's own classes and builders (C4W3 lab), as a student's notebook defines them.
class Sampling(tf.keras.layers.Layer):
    def call(self, inputs):
        mu, sigma = inputs
        batch = tf.shape(mu)[0]
        dim = tf.shape(mu)[1]
        epsilon = tf.random.normal(shape=(batch, dim))
        return mu + tf.exp(0.5 * sigma) * epsilon


class KLDLayer(tf.keras.layers.Layer):
    def call(self, inputs):
        mu, sigma = inputs
        kl_loss = 1 + sigma - tf.square(mu) - tf.math.exp(sigma)
        kl_loss = tf.reduce_mean(kl_loss) * -0.5
        self.add_loss(kl_loss)
        return kl_loss


def encoder_layers(inputs, latent_dim):
    x = tf.keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="encode_conv1")(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="encode_conv2")(x)
    batch_2 = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Flatten(name="encode_flatten")(batch_2)
    x = tf.keras.layers.Dense(20, activation="relu", name="encode_dense")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    mu = tf.keras.layers.Dense(latent_dim, name="latent_mu")(x)
    sigma = tf.keras.layers.Dense(latent_dim, name="latent_sigma")(x)
    return mu, sigma, batch_2.shape


def encoder_model(latent_dim, input_shape, style):
    inputs = tf.keras.Input(shape=input_shape, name="encoder_input")
    mu, sigma, conv_shape = encoder_layers(inputs, latent_dim=latent_dim)
    z = Sampling()((mu, sigma))
    if style == "2025":
        kl_loss = KLDLayer()((mu, sigma))
        return tf.keras.Model(inputs=inputs, outputs=[z, kl_loss]), conv_shape
    return tf.keras.Model(inputs, outputs=[mu, sigma, z]), conv_shape


def decoder_model(latent_dim, conv_shape):
    inputs = tf.keras.Input(shape=(latent_dim,))
    units = conv_shape[1] * conv_shape[2] * conv_shape[3]
    x = tf.keras.layers.Dense(units, activation="relu", name="decode_dense1")(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Reshape((conv_shape[1], conv_shape[2], conv_shape[3]), name="decode_reshape")(x)
    x = tf.keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu", name="decode_conv2d_2")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu", name="decode_conv2d_3")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same", activation="sigmoid", name="decode_final")(x)
    return tf.keras.Model(inputs, x)


def warm_batchnorm(model):
    """Give BatchNorm non-trivial statistics, as a trained notebook model has."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            rng = np.random.default_rng(n)
            layer.moving_mean.assign(rng.normal(0, 0.5, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1.5, n).astype("float32"))


@pytest.mark.parametrize("style", ["2023", "2025"])
def test_course_notebook_models_export_with_our_names(tmp_path, fashion_mnist_dir, style):
    encoder, conv_shape = encoder_model(2, (28, 28, 1), style)
    decoder = decoder_model(2, conv_shape)
    warm_batchnorm(encoder)
    warm_batchnorm(decoder)
    encoder.save(tmp_path / "enc.keras")
    decoder.save(tmp_path / "dec.keras")
    out = tmp_path / "bundle"
    result = runner.invoke(
        app,
        pair_export(tmp_path, fashion_mnist_dir, out),
    )
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(out / "encoder.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["z_mean", "z_log_var"]
    image = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    z_mean, z_log_var = session.run(None, {"image": image})
    mu_layer = encoder.get_layer("latent_mu")
    expected = tf.keras.Model(encoder.inputs, [mu_layer.output, encoder.get_layer("latent_sigma").output])(
        image, training=False
    )
    np.testing.assert_allclose(z_mean, expected[0], atol=1e-4)  # the course's mu is our z_mean
    np.testing.assert_allclose(z_log_var, expected[1], atol=1e-4)
    assert validate_stored(out)


@pytest.mark.reliability
def test_lambda_layer_needs_unsafe(tmp_path, fashion_mnist_dir, reliability):
    encoder, conv_shape = encoder_model(2, (28, 28, 1), "2023")
    inputs = tf.keras.Input((28, 28, 1))
    scaled = tf.keras.layers.Lambda(lambda t: t * 1.0)(inputs)
    wrapped = tf.keras.Model(inputs, encoder(scaled)[:2])
    wrapped.save(tmp_path / "enc.keras")
    decoder_model(2, conv_shape).save(tmp_path / "dec.keras")
    args = pair_export(tmp_path, fashion_mnist_dir, tmp_path / "b")
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "--unsafe" in result.output and not (tmp_path / "b").exists()
    reliability("untrusted Keras file: Lambda layer (safe_mode=True)", "refused without --unsafe, nothing written")


def test_a_64x64x3_model_end_to_end(tmp_path):
    """A tiny colour model trained for one epoch on generated blobs, exported in every precision with fixed
    TFLite batches 1 and 8: shapes, ops, parity of the engines, the batches a call picks, the latent grid."""
    from vaedge import runtime
    from vaedge.export.config import ExportConfig
    from vaedge.export.run import export
    from vaedge.export.tflite_facts import tflite_ops, xnnpack_partitions
    from vaedge.export.tflite_graphs import DYNAMIC_SHAPE_OPS
    from vaedge.train.config import TrainConfig
    from vaedge.train.run import train

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    centers = rng.random((320, 1, 1, 3))
    images = np.exp(-((xx[None, :, :, None] - centers) ** 2 + (yy[None, :, :, None] - centers[..., ::-1]) ** 2) * 8)
    pixels = (images * 255).astype(np.uint8)
    np.savez(tmp_path / "blobs.npz", x_train=pixels[:256], x_test=pixels[256:])
    config = TrainConfig(data=str(tmp_path / "blobs.npz"), epochs=1, batch_size=64, latent_dim=8, seed=0)
    run = train(config, tmp_path / "run", verbose=0)
    export_config = ExportConfig(  # few calibration and validation images: shapes are what is tested here
        precisions=["fp16", "int8"], tflite_batches=[1, 8], calibration_images=64, validation_images=64
    )
    result = export(export_config, tmp_path / "b", run=run)
    manifest = read_manifest(tmp_path / "b")
    assert manifest.image_shape == (64, 64, 3) and manifest.latent_dim == 8
    session = ort.InferenceSession(str(tmp_path / "b" / "decoder.onnx"), providers=["CPUExecutionProvider"])
    for n in (1, 7, 256):
        assert session.run(None, {"z": np.zeros((n, 8), np.float32)})[0].shape == (n, 64, 64, 3)
    written = {f.path for f in manifest.files}
    assert {"decoder.b1.tflite", "decoder.b8.tflite", "encoder.b1.tflite", "encoder.b8.tflite"} <= written
    assert written | set(result.skipped) >= {"decoder.fp16.onnx", "decoder.int8.onnx", "encoder.int8.b8.tflite"}
    for f in manifest.files:
        if f.format == "tflite" and f.precision == "fp32":
            data = (tmp_path / "b" / f.path).read_bytes()
            assert not DYNAMIC_SHAPE_OPS & set(tflite_ops(data)) and xnnpack_partitions(data)["whole"], f.path

    onnx_gen, tflite_gen = runtime.load(tmp_path / "b", backend="onnx"), runtime.load(tmp_path / "b", backend="tflite")
    expected, eps = onnx_gen.sample(11, seed=0, return_eps=True)
    assert expected.shape == (11, 64, 64, 3) and np.abs(tflite_gen.decode(eps) - expected).max() <= 1e-5
    assert dict(tflite_gen.decoder.calls) == {8: 1, 1: 3}
    grid = onnx_gen.latent_grid(4, images=pixels[256:272])  # latent dim 8: the two dims with most variance
    assert grid.shape == (16, 64, 64, 3)
    with pytest.raises(InputError, match="pass images"):
        onnx_gen.latent_grid(4)
