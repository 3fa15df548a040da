"""The course VAE (DeepLearning.AI, TF Advanced Techniques C4W3), written with `keras.ops`.

The course calls the two encoder heads `mu` and `sigma`; they are learned Dense layers and the
second is a log-variance, so here they are `z_mean` and `z_log_var`:
`z = z_mean + exp(0.5 * z_log_var) * eps`, eps ~ N(0, I).

Everything below uses backend-neutral `keras.ops`, so the same model and loss train under the
TensorFlow (default) or JAX backend.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from vaedge.train.config import check_image_shape

PACKAGE = "vaedge"


def build_encoder(image_shape: tuple[int, int, int], latent_dim: int) -> keras.Model:
    """image (N, H, W, C) in [0, 1] -> z_mean (N, D), z_log_var (N, D)."""
    check_image_shape(image_shape)
    image = keras.Input(shape=image_shape, name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="encode_conv1")(image)
    x = layers.BatchNormalization(name="encode_bn1")(x)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="encode_conv2")(x)
    x = layers.BatchNormalization(name="encode_bn2")(x)
    x = layers.Flatten(name="encode_flatten")(x)
    x = layers.Dense(20, activation="relu", name="encode_dense")(x)
    x = layers.BatchNormalization(name="encode_bn3")(x)
    # float32 heads keep the latent statistics exact under mixed precision.
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(x)
    return keras.Model(image, [z_mean, z_log_var], name="encoder")


def build_decoder(image_shape: tuple[int, int, int], latent_dim: int) -> keras.Model:
    """z (N, D) -> image (N, H, W, C) in [0, 1]."""
    check_image_shape(image_shape)
    height, width, channels = image_shape
    z = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Dense((height // 4) * (width // 4) * 64, activation="relu", name="decode_dense1")(z)
    x = layers.BatchNormalization(name="decode_bn1")(x)
    x = layers.Reshape((height // 4, width // 4, 64), name="decode_reshape")(x)
    x = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu", name="decode_conv2d_2")(x)
    x = layers.BatchNormalization(name="decode_bn2")(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu", name="decode_conv2d_3")(x)
    x = layers.BatchNormalization(name="decode_bn3")(x)
    image = layers.Conv2DTranspose(
        channels, 3, strides=1, padding="same", activation="sigmoid", dtype="float32", name="image"
    )(x)
    return keras.Model(z, image, name="decoder")


@keras.saving.register_keras_serializable(package=PACKAGE)
class Sampling(layers.Layer):
    """(z_mean, z_log_var) (N, D) -> z (N, D); draws eps from its own seed unless eps is given."""

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, z_mean, z_log_var, eps=None):
        if eps is None:
            eps = keras.random.normal(ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def reconstruction_loss(image, reconstruction):
    """Binary cross-entropy summed over pixels: (N, H, W, C) x2 -> (N,) nats."""
    image = ops.cast(image, "float32")
    reconstruction = ops.cast(reconstruction, "float32")
    bce = ops.binary_crossentropy(image, reconstruction, from_logits=False)
    return ops.sum(bce, axis=tuple(range(1, len(image.shape))))


def kl_loss(z_mean, z_log_var):
    """KL(q(z|x) || N(0, I)) summed over latent dims: (N, D) x2 -> (N,) nats."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class VAE(keras.Model):
    """Encoder + Sampling + decoder, trained on the negative ELBO (batch mean of per-image nats).

    `call(image)` returns (reconstruction, z_mean, z_log_var); BatchNorm follows `training`. Held-out
    data comes as {"image": (N, H, W, C), "eps": (N, D)}: fixed noise, so one model gets one figure.
    """

    def __init__(self, image_shape, latent_dim: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.latent_dim = int(latent_dim)
        self.seed = seed
        self.encoder = build_encoder(self.image_shape, self.latent_dim)
        self.decoder = build_decoder(self.image_shape, self.latent_dim)
        self.sampling = Sampling(seed=seed, name="sampling")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    def call(self, image, training=None, eps=None):
        if isinstance(image, dict):
            image, eps = image["image"], image["eps"]
        z_mean, z_log_var = self.encoder(image, training=training)
        z = self.sampling(z_mean, z_log_var, eps=eps)
        reconstruction = self.decoder(z, training=training)
        return reconstruction, z_mean, z_log_var

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        reconstruction, z_mean, z_log_var = y_pred
        if isinstance(x, dict):
            x = x["image"]
        reconstruction_nats = reconstruction_loss(x, reconstruction)
        kl_nats = kl_loss(z_mean, z_log_var)
        # Per-image values, so a short last batch weighs what it holds.
        self.reconstruction_loss_tracker.update_state(reconstruction_nats)
        self.kl_loss_tracker.update_state(kl_nats)
        return ops.mean(reconstruction_nats) + ops.mean(kl_nats)

    @property
    def metrics(self):
        # Listing the trackers here lets fit()/evaluate() reset them every epoch.
        trackers = [self.reconstruction_loss_tracker, self.kl_loss_tracker]
        loss_tracker = getattr(self, "_loss_tracker", None)  # exists once compiled
        return trackers if loss_tracker is None else [loss_tracker, *trackers]

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": list(self.image_shape),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
        }
