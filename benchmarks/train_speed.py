"""Training speed over whole epochs: the course notebook's eager loop vs `vaedge train`'s step.

Each side runs in a fresh process, one after the other; the same images (the first --images of
Fashion-MNIST's training set) and batch size. Each side runs one warm-up epoch (tracing, graph
building, allocator warm-up), then `--epochs` whole epochs are timed: steady-state img/s. Then
`vaedge.train.run.train` itself runs 2 epochs of --epoch-images and the gap between its two checkpoints
is the wall time of one epoch as `vaedge train` runs it (train, precise BatchNorm, validation on the 10k
test images, checkpoint); the share of it outside the train steps is measured against the side with
vaedge train's own settings (fp32, jit_compile "auto"). The load average is printed at the start and the
end: quote figures only from a quiet machine.

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


def course_epochs(images: np.ndarray, batch_size: int, epochs: int) -> float:
    """img/s of the notebook's training loop (eager, BN never told training=True) over whole epochs."""
    vae = course_vae(images.shape[1:])
    optimizer = tf.keras.optimizers.Adam()
    loss_metric = tf.keras.metrics.Mean()
    bce_loss = tf.keras.losses.BinaryCrossentropy()
    dataset = tf.data.Dataset.from_tensor_slices(images).shuffle(1024).batch(batch_size)

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

    def epoch():
        for x_batch_train in dataset:
            step(x_batch_train)

    epoch()  # warm-up
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return epochs * len(images) / (time.perf_counter() - start)


# --- vaedge: the step `vaedge train` runs --------------------------------------------------------
def vaedge_epochs(images: np.ndarray, batch_size: int, epochs: int, jit_compile, policy: str) -> tuple[float, object]:
    """img/s of `model.fit` over whole epochs on vaedge's tf.data pipeline; and what "auto" became."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        vae = VAE(images.shape[1:], 2, seed=0)
        vae.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
        dataset = pipeline(images, batch_size, shuffle_seed=0)
        vae.fit(dataset, epochs=1, verbose=0)  # warm-up epoch: trace and compile
        start = time.perf_counter()
        vae.fit(dataset, epochs=epochs, verbose=0)
        return epochs * len(images) / (time.perf_counter() - start), vae.jit_compile
    finally:
        keras.mixed_precision.set_global_policy("float32")


def vaedge_train_epoch_wall(data: str, images: int, **settings) -> dict:
    """Seconds of epoch 2 as `vaedge train` runs it: the gap between its two checkpoints."""
    import tempfile
    from pathlib import Path

    from vaedge.train.config import TrainConfig
    from vaedge.train.run import train

    with tempfile.TemporaryDirectory() as tmp:
        run = train(TrainConfig(data=data, epochs=2, limit=images, seed=0, **settings), Path(tmp) / "run", verbose=0)
        stamps = [(run / "checkpoints" / f"epoch-{e:04d}" / "history.json").stat().st_mtime for e in (1, 2)]
        metrics = json.loads((run / "metrics.json").read_text())
        config = json.loads((run / "train_config.json").read_text())
    return {
        "epoch_seconds": stamps[1] - stamps[0],
        "test_neg_elbo": metrics["test_neg_elbo"],
        "settings": config.get("used"),
    }


SIDES = {  # name: (jit_compile, dtype policy) of a `fit` side; the course loop is its own side
    "vaedge_fit_fp32": (False, "float32"),
    "vaedge_fit_bf16": (False, "mixed_bfloat16"),
    "vaedge_fit_fp32_xla": (True, "float32"),
    "vaedge_fit_fp32_auto": ("auto", "float32"),  # what `vaedge train` runs by default
}


def run_side(side: str, args) -> dict:
    """One side, in this process: {"img_per_s": ...} (and what jit_compile resolved to)."""
    if side == "vaedge_train_epoch":
        return vaedge_train_epoch_wall(args.data, args.epoch_images)
    images = load_dataset(args.data, limit=args.images).x_train
    if side == "course_eager_loop":
        return {"img_per_s": course_epochs(images, args.batch_size, args.epochs)}
    jit, policy = SIDES[side]
    rate, resolved = vaedge_epochs(images, args.batch_size, args.epochs, jit, policy)
    return {"img_per_s": rate, "jit_compile": resolved, "policy": policy}


def in_fresh_process(side: str, argv: list[str]) -> dict:
    """Each side gets a new process: in one process the first `fit` after the eager loop ran 1.6x slower
    than the same settings later (500 vs 813 img/s, 2026-12-02), so shared state skewed every figure."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, __file__, *argv, "--side", side], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fashion_mnist")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--images", type=int, default=60000, help="images per epoch (60000: a real epoch)")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per side, after one warm-up epoch")
    parser.add_argument("--epoch-images", type=int, default=60000, help="images per epoch of the `vaedge train` run")
    parser.add_argument("--json")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # internal: run one side and print its JSON
    args = parser.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args), default=str))
        return
    argv = [
        *("--data", args.data, "--batch-size", str(args.batch_size), "--images", str(args.images)),
        *("--epochs", str(args.epochs), "--epoch-images", str(args.epoch_images)),
    ]
    load_at_start = os.getloadavg()
    sides = {name: in_fresh_process(name, argv) for name in ("course_eager_loop", *SIDES)}
    course = sides["course_eager_loop"]["img_per_s"]
    for side in sides.values():
        side["vs_course"] = side["img_per_s"] / course
    epoch = {
        "timed": "wall seconds of epoch 2 of `vaedge train` (train, precise BatchNorm, validation on the test "
        "set, checkpoint)",
        "images": args.epoch_images,
        **in_fresh_process("vaedge_train_epoch", argv),
    }
    # the train steps alone, at the rate of the side with vaedge train's own settings
    steps_seconds = args.epoch_images / sides["vaedge_fit_fp32_auto"]["img_per_s"]
    epoch["outside_steps_fraction"] = max(0.0, 1 - steps_seconds / epoch["epoch_seconds"])
    epoch["img_per_s"] = args.epoch_images / epoch["epoch_seconds"]
    results = {
        "timed": (
            f"{args.epochs} whole epochs of {args.images} images per side after one warm-up epoch, batch "
            f"{args.batch_size}, each side in a fresh process; img/s = images trained / wall seconds"
        ),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),
        "sides": sides,
        "vaedge_train_epoch": epoch,
    }
    print(f"load average {load_at_start[0]:.2f} at start, {results['load_average_at_end'][0]:.2f} at end")
    for name, side in sides.items():
        print(f"{name:24s} {side['img_per_s']:9.1f} img/s  {side['vs_course']:.2f}x course")
    print(
        f"vaedge train epoch       {epoch['epoch_seconds']:9.1f} s = {epoch['img_per_s']:.1f} img/s, "
        f"{epoch['img_per_s'] / course:.2f}x course (validation and checkpoint included; "
        f"{epoch['outside_steps_fraction']:.1%} of it outside the train steps)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2, default=str)


if __name__ == "__main__":
    main()
