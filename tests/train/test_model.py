"""The VAE's architecture, its ELBO against a numpy reference, and the Sampling layer's statistics."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from vaedge.train.model import VAE, Sampling, build_decoder, build_encoder, kl_loss, reconstruction_loss


def numpy_bce_sum(image, reconstruction, eps=1e-7):
    p = np.clip(reconstruction.astype(np.float64), eps, 1 - eps)
    bce = -(image * np.log(p) + (1 - image) * np.log(1 - p))
    return bce.reshape(len(image), -1).sum(axis=1)


def numpy_kl(z_mean, z_log_var):
    return -0.5 * np.sum(1 + z_log_var - z_mean**2 - np.exp(z_log_var), axis=1)


def test_losses_match_numpy_reference():
    rng = np.random.default_rng(0)
    image = rng.random((5, 28, 28, 1)).astype(np.float32)
    reconstruction = rng.random((5, 28, 28, 1)).astype(np.float32)
    z_mean = rng.normal(size=(5, 3)).astype(np.float32)
    z_log_var = rng.normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(reconstruction_loss(image, reconstruction)), numpy_bce_sum(image, reconstruction), rtol=1e-5
    )
    np.testing.assert_allclose(np.asarray(kl_loss(z_mean, z_log_var)), numpy_kl(z_mean, z_log_var), rtol=1e-5)
    # KL is summed over latent dims (the course averaged it): the zero point is exact.
    assert np.asarray(kl_loss(np.zeros((2, 4), "float32"), np.zeros((2, 4), "float32"))).tolist() == [0.0, 0.0]


def test_vae_loss_is_batch_mean_of_per_image_elbo():
    vae = VAE((28, 28, 1), 2, seed=0)
    image = np.random.default_rng(1).random((4, 28, 28, 1)).astype(np.float32)
    eps = np.random.default_rng(2).normal(size=(4, 2)).astype(np.float32)
    reconstruction, z_mean, z_log_var = (np.asarray(t) for t in vae(image, training=False, eps=eps))
    z = z_mean + np.exp(0.5 * z_log_var) * eps
    np.testing.assert_allclose(reconstruction, np.asarray(vae.decoder(z, training=False)), atol=1e-6)
    loss = float(vae.compute_loss(image, None, (reconstruction, z_mean, z_log_var)))
    expected = np.mean(numpy_bce_sum(image, reconstruction) + numpy_kl(z_mean, z_log_var))
    assert loss == pytest.approx(expected, rel=1e-5)


def test_sampling_statistics_and_seeding():
    n = 200_000
    z_mean = np.tile(np.array([[1.5, -2.0]], np.float32), (n, 1))
    z_log_var = np.tile(np.array([[0.0, np.log(0.25)]], np.float32), (n, 1))
    z = np.asarray(Sampling(seed=3)(z_mean, z_log_var))
    np.testing.assert_allclose(z.mean(axis=0), [1.5, -2.0], atol=0.01)
    np.testing.assert_allclose(z.std(axis=0), [1.0, 0.5], atol=0.01)
    again = np.asarray(Sampling(seed=3)(z_mean[:10], z_log_var[:10]))
    np.testing.assert_array_equal(again, np.asarray(Sampling(seed=3)(z_mean[:10], z_log_var[:10])))
    assert not np.array_equal(again, np.asarray(Sampling(seed=4)(z_mean[:10], z_log_var[:10])))
    eps = np.ones((10, 2), np.float32)
    np.testing.assert_allclose(np.asarray(Sampling()(z_mean[:10], z_log_var[:10], eps=eps))[0], [2.5, -1.5])


@pytest.mark.parametrize("shape, latent", [((28, 28, 1), 2), ((64, 64, 3), 16)])
def test_architecture_names_and_shapes(shape, latent):
    encoder, decoder = build_encoder(shape, latent), build_decoder(shape, latent)
    assert encoder.output_names == ["z_mean", "z_log_var"]
    z_mean, z_log_var = encoder(np.zeros((3, *shape), np.float32))
    assert z_mean.shape == (3, latent) and z_log_var.shape == (3, latent)
    assert [layer.name for layer in encoder.layers][-2:] == ["z_mean", "z_log_var"]
    image = np.asarray(decoder(np.zeros((3, latent), np.float32)))
    assert image.shape == (3, *shape) and image.min() >= 0 and image.max() <= 1
    kinds = [type(layer).__name__ for layer in decoder.layers]
    assert kinds.count("Conv2DTranspose") == 3 and kinds.count("BatchNormalization") == 3


def test_bad_image_shape_is_refused():
    with pytest.raises(ValueError, match="multiples of 4"):
        build_encoder((30, 28, 1), 2)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        build_decoder((28, 28, 2), 2)


def test_batchnorm_trains_in_training_mode():
    """The course never passed training=True, so BN stayed frozen; fit() must move its statistics."""
    keras.utils.set_random_seed(0)
    vae = VAE((8, 8, 1), 2, seed=0)
    vae.compile(optimizer="adam")
    moving_mean = vae.encoder.get_layer("encode_bn1").moving_mean
    before = np.asarray(moving_mean).copy()
    vae.fit(np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32"), epochs=1, batch_size=32, verbose=0)
    assert not np.allclose(before, np.asarray(moving_mean))
    assert [m.name for m in vae.metrics] == ["loss", "reconstruction_loss", "kl_loss"]
