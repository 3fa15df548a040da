"""`vaedge train`: fit the VAE on a tf.data pipeline, checkpoint each epoch, write the run directory.

The run directory's layout lives in `vaedge.train.run_dir`. Before each epoch's validation (and so
before every checkpoint and the kept model) the BatchNorm statistics are recomputed for the current
weights (`vaedge.train.batchnorm`), and validation uses fixed eps (`vaedge.eps`).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaedge.eps import heldout_eps
from vaedge.errors import TrainingError
from vaedge.train import batchnorm, lifecycle, schedule
from vaedge.train.checkpoint import load_vae
from vaedge.train.config import TrainConfig
from vaedge.train.model import VAE  # also registers VAE/Sampling for checkpoint loading
from vaedge.train.run_dir import (  # noqa: F401 - CHECKPOINTS, FINAL_FILES, last_checkpoint: re-exported
    CHECKPOINTS,
    FINAL_FILES,
    checkpoint_model,
    claim_run_dir,
    discard_claim,
    last_checkpoint,
)


def train(
    config: TrainConfig,
    out: Path,
    force: bool = False,
    resume: bool = False,
    verbose: int = 1,
    start: lifecycle.Start | None = None,
) -> Path:
    """Train (or resume) a run in this process into `out` and return it. With `resume`, `config` is read
    from `out`. `start`: what `lifecycle.begin` already returned for these arguments (the launcher checks
    before TensorFlow loads). A multi-worker run starts from `vaedge.train.launch.train`."""
    out = Path(out)
    start = start or lifecycle.begin(config, out, force, resume)
    config = start.config
    if config.strategy == "multiworker":
        raise TrainingError(f"{out}: a multiworker run starts from `vaedge train` (vaedge.train.launch.train)")
    lifecycle.seed_and_precision(config)
    strategy = _strategy(config.strategy)
    data = lifecycle.load_data(config)
    lifecycle.check_resume(out, config, data.image_shape, resume)
    work = out if resume else claim_run_dir(out)  # only now that the data loaded: bad data leaves nothing
    try:
        return _fit(config, work, out, data, strategy, start, resume, verbose)
    except BaseException:  # failed or interrupted, from the CLI or from Python
        discard_claim(work, out)
        raise


def _fit(config: TrainConfig, out: Path, final: Path, data, strategy, start, resume: bool, verbose: int) -> Path:
    """Fit in `out` (the run, or the hidden sibling that replaces `final` once complete) and write it."""
    config.save(out)
    if verbose:
        device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
        print(
            f"training on {len(data.x_train)} images {data.image_shape} from {data.source}, {device}, "
            f"strategy {config.strategy}"
        )
    checkpoint, history = start.checkpoint, start.history
    with strategy.scope():
        if checkpoint:
            vae = load_vae(checkpoint[1] / "vae.keras", data.image_shape, config.latent_dim)
        else:
            vae = VAE(tuple(data.image_shape), config.latent_dim, seed=config.seed, name="vae")
            steps = schedule.steps_per_epoch(len(data.x_train), config.batch_size)
            vae.compile(
                optimizer=keras.optimizers.Adam(
                    schedule.learning_rate(config.lr_schedule, config.learning_rate, config.epochs, steps)
                ),
                jit_compile="auto" if config.jit_compile is None else config.jit_compile,
            )
    used = {
        "policy": keras.mixed_precision.global_policy().name,
        "jit_compile": bool(vae.jit_compile),
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
        "batchnorm": lifecycle.batchnorm_used(config, len(data.x_train)),
    }
    info = lifecycle.write_run_info(out, config, data.image_shape, used, resume)
    initial_epoch = checkpoint[0] if checkpoint else 0
    train_ds = pipeline(data.x_train, config.batch_size, shuffle_seed=config.seed)
    test_ds = heldout_pipeline(data.x_test, config.batch_size, config.latent_dim, config.seed)
    vae.fit(
        train_ds,
        validation_data=test_ds,
        # killed after the checkpoint that met --early-stop: nothing more to train, only the final files
        epochs=initial_epoch if schedule.should_stop(history, config.early_stop) else config.epochs,
        initial_epoch=initial_epoch,
        shuffle=False,  # the tf.data pipeline shuffles
        callbacks=[Recalibrate(data.x_train, config), EpochCheckpoint(out, history, config.early_stop)],
        verbose=verbose,
    )
    last = vae.evaluate(test_ds, verbose=0, return_dict=True)
    best = lifecycle.best_epoch(history)
    if best and best != len(history.get("loss", [])):  # keep the best held-out epoch, not the last
        with strategy.scope():
            vae = keras.saving.load_model(checkpoint_model(out, best))
    test = vae.evaluate(test_ds, verbose=0, return_dict=True)
    return lifecycle.finish(out, final, vae, config, history, test, last, info, len(data.x_test))


def _strategy(name: str):
    if name == "default":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices=devices)


def pipeline(images: np.ndarray, batch_size: int, shuffle_seed: int | None = None):
    """Batches (B, H, W, C) of `images`, reshuffled every epoch when `shuffle_seed` is given.

    What is shuffled is the image indices, and each batch is one gather: shuffling the images
    themselves made tf.data refill a dataset-sized buffer of images before every epoch's first batch.
    """
    if shuffle_seed is None:
        return _distributable(tf.data.Dataset.from_tensor_slices(images).batch(batch_size))
    pixels = tf.constant(images)
    order = tf.data.Dataset.range(len(images)).shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    return _distributable(order.batch(batch_size).map(lambda index: tf.gather(pixels, index)))


def heldout_pipeline(images: np.ndarray, batch_size: int, latent_dim: int, seed: int):
    """Batches of {"image": (B, H, W, C), "eps": (B, D)}: test image i always gets the same eps
    (vaedge.eps.heldout_eps, the first draw `vaedge evaluate --seed` makes for it)."""
    eps = heldout_eps(len(images), latent_dim, seed)
    return _distributable(tf.data.Dataset.from_tensor_slices({"image": images, "eps": eps}).batch(batch_size))


def _distributable(ds):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.prefetch(tf.data.AUTOTUNE).with_options(options)


class Recalibrate(keras.callbacks.Callback):
    """Precise BatchNorm statistics for the current weights before each validation in `fit`
    (Keras calls `on_test_begin` there, between the epoch's last train step and its checkpoint)."""

    def __init__(self, images: np.ndarray, config: TrainConfig):
        super().__init__()
        self.images, self.config = images, config

    def on_test_begin(self, logs=None):
        if self.config.bn_stats_images:
            batchnorm.recalibrate(
                self.model, self.images, self.config.bn_stats_images, self.config.batch_size, self.config.seed
            )


class EpochCheckpoint(keras.callbacks.Callback):
    """Stop on a non-finite loss; otherwise append to `history` and publish `checkpoints/epoch-NNNN/`
    (vaedge.train.lifecycle.record_epoch)."""

    def __init__(self, out: Path, history: dict, early_stop: int | None = None):
        super().__init__()
        self.out, self.history, self.early_stop = out, history, early_stop

    def on_epoch_end(self, epoch, logs=None):
        lifecycle.record_epoch(self.out, epoch + 1, self.model, self.history, dict(logs or {}))
        if schedule.should_stop(self.history, self.early_stop):
            self.model.stop_training = True
