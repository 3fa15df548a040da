"""Training speed: vaedge's compiled `fit` step vs the course notebook's eager GradientTape loop.

Same images (the first N of Fashion-MNIST's training set), same batch size, same machine, one
process. Prints img/s for each and the ratio; `--json` writes them.

    .venv/bin/python benchmarks/train_speed.py --data ../shared/data/fashion-mnist --json train_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vaedge.train.data import load_dataset  # noqa: E402
from vaedge.train.model import VAE  # noqa: E402
from vaedge.train.run import pipeline  # noqa: E402


# --- the course notebook (C4W3 lab, 2025 version), as written there ---------------------------
class Sampling(tf.keras.layers.Layer):
    def call(self, inputs):
        mu, sigma = inputs
        epsilon = tf.random.normal(shape=(tf.shape(mu)[0], tf.shape(mu)[1]))
        return mu + tf.exp(0.5 * sigma) * epsilon


class KLDLayer(tf.keras.layers.Layer):
    def call(self, inputs):
        mu, sigma = inputs
        kl_loss = tf.reduce_mean(1 + sigma - tf.square(mu) - tf.math.exp(sigma)) * -0.5
        self.add_loss(kl_loss)
        return kl_loss


def course_vae(input_shape=(28, 28, 1), latent_dim=2):
    inputs = tf.keras.Input(shape=input_shape)
    x = tf.keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    batch_2 = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Flatten()(batch_2)
    x = tf.keras.layers.Dense(20, activation="relu")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    mu = tf.keras.layers.Dense(latent_dim, name="latent_mu")(x)
    sigma = tf.keras.layers.Dense(latent_dim, name="latent_sigma")(x)
    z = Sampling()((mu, sigma))
    kl = KLDLayer()((mu, sigma))
    encoder = tf.keras.Model(inputs, [z, kl])
    latent = tf.keras.Input(shape=(latent_dim,))
    y = tf.keras.layers.Dense(7 * 7 * 64, activation="relu")(latent)
    y = tf.keras.layers.BatchNormalization()(y)
    y = tf.keras.layers.Reshape((7, 7, 64))(y)
    y = tf.keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(y)
    y = tf.keras.layers.BatchNormalization()(y)
    y = tf.keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(y)
    y = tf.keras.layers.BatchNormalization()(y)
    y = tf.keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same", activation="sigmoid")(y)
    decoder = tf.keras.Model(latent, y)
    z, _ = encoder(inputs)
    return tf.keras.Model(inputs, decoder(z))


def course_loop(images: np.ndarray, batch_size: int, steps: int) -> float:
    """img/s of the notebook's training loop (eager, BN never told training=True)."""
    vae = course_vae(images.shape[1:])
    optimizer = tf.keras.optimizers.Adam()
    loss_metric = tf.keras.metrics.Mean()
    bce_loss = tf.keras.losses.BinaryCrossentropy()
    dataset = tf.data.Dataset.from_tensor_slices(images).shuffle(1024).batch(batch_size).repeat()

    def step(x_batch_train):
        with tf.GradientTape() as tape:
            reconstructed = vae(x_batch_train)
            flattened_inputs = tf.reshape(x_batch_train, shape=[-1])
            flattened_outputs = tf.reshape(reconstructed, shape=[-1])
            loss = bce_loss(flattened_inputs, flattened_outputs) * 784
            loss += sum(vae.losses)
        grads = tape.gradient(loss, vae.trainable_weights)
        optimizer.apply_gradients(zip(grads, vae.trainable_weights))
        loss_metric(loss)

    batches = iter(dataset)
    for _ in range(3):
        step(next(batches))
    start = time.perf_counter()
    for _ in range(steps):
        step(next(batches))
    return steps * batch_size / (time.perf_counter() - start)


# --- vaedge: the step `vaedge train` runs --------------------------------------------------------
def vaedge_fit(images: np.ndarray, batch_size: int, steps: int, jit_compile) -> float:
    """img/s of `model.fit` on vaedge's tf.data pipeline (compiled train step)."""
    keras.utils.set_random_seed(0)
    vae = VAE(images.shape[1:], 2, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    dataset = pipeline(images, batch_size, shuffle_seed=0).repeat()
    vae.fit(dataset, steps_per_epoch=3, epochs=1, verbose=0)  # trace and compile
    start = time.perf_counter()
    vae.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fashion_mnist")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--json")
    args = parser.parse_args()
    images = load_dataset(args.data, limit=args.batch_size * args.steps).x_train
    results = {
        "batch_size": args.batch_size,
        "steps": args.steps,
        "course_eager_loop": course_loop(images, args.batch_size, args.steps),
        "vaedge_fit_auto": vaedge_fit(images, args.batch_size, args.steps, "auto"),
        "vaedge_fit_xla": vaedge_fit(images, args.batch_size, args.steps, True),
    }
    for key in ("vaedge_fit_auto", "vaedge_fit_xla"):
        results[f"{key}_vs_course"] = results[key] / results["course_eager_loop"]
    for key, value in results.items():
        print(f"{key:28s} {value:10.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
