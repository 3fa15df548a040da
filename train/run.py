"""`vaedge train`: fit the VAE on a tf.data pipeline, checkpoint each epoch, write the run directory.

The run directory's layout lives in `vaedge.train.run_dir`. Before each epoch's validation (and so
before every checkpoint and the kept model) the BatchNorm statistics are recomputed for the current
weights (`vaedge.train.batchnorm`), and validation uses fixed eps (`vaedge.eps`).
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaedge.eps import heldout_eps
from vaedge.errors import TrainingError
from vaedge.io import atomic
from vaedge.train import batchnorm, schedule
from vaedge.train.checkpoint import load_vae, read_history
from vaedge.train.config import TrainConfig, is_run
from vaedge.train.data import load_dataset
from vaedge.train.model import VAE  # also registers VAE/Sampling for checkpoint loading
from vaedge.train.run_dir import (  # noqa: F401 - CHECKPOINTS, FINAL_FILES, last_checkpoint: re-exported
    CHECKPOINTS,
    FINAL_FILES,
    checkpoint_model,
    claim_run_dir,
    discard_claim,
    last_checkpoint,
    publish_checkpoint,
    training_versions,
    write_final,
)


def train(config: TrainConfig, out: Path, force: bool = False, resume: bool = False, verbose: int = 1) -> Path:
    """Train (or resume) a run into `out` and return it. With `resume`, `config` is read from `out`."""
    out = Path(out)
    from vaedge.train import cluster as cluster_

    if cluster_.wanted(None if resume else config.strategy, out, resume):
        from vaedge.train import distributed  # needs a process where TensorFlow has not started yet

        strategy, cluster = cluster_.start()
        return distributed.train(None if resume else config, out, cluster, strategy, force, resume, verbose)
    if resume:
        config = TrainConfig.load(out)
        for stale in (out / CHECKPOINTS).glob(".epoch-*.partial"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        checkpoint = last_checkpoint(out)
        if checkpoint and (out / "metrics.json").is_file():  # written only once training has ended
            done = (
                f"all {config.epochs} epochs"
                if checkpoint[0] >= config.epochs
                else f"after epoch {checkpoint[0]} (early stop)"
            )
            raise TrainingError(f"{out}: already finished {done}; nothing to resume")
    else:
        config.validate()
        atomic.check_directory_target(out, force, is_run, "run")  # before any work
        checkpoint = None
    keras.utils.set_random_seed(config.seed)
    policy = precision_policy(config.mixed_precision)
    keras.mixed_precision.set_global_policy(policy)
    strategy = _strategy(config.strategy)
    image_size = tuple(config.image_size) if config.image_size else None
    data = load_dataset(config.data, image_size, config.channels, config.limit, config.seed)
    if config.image_shape is not None and list(data.image_shape) != list(config.image_shape):
        raise TrainingError(f"{config.data}: images are {data.image_shape}, the run was made with {config.image_shape}")
    config.image_shape = list(data.image_shape)
    config.versions = config.versions or training_versions()
    work = out if resume else claim_run_dir(out)  # only now that the data loaded: bad data leaves nothing
    try:
        return _fit(config, work, out, data, strategy, checkpoint, verbose)
    except BaseException:  # failed or interrupted, from the CLI or from Python
        discard_claim(work, out)
        raise


def _fit(config: TrainConfig, out: Path, final: Path, data, strategy, checkpoint, verbose: int) -> Path:
    """Fit in `out` (the run, or the hidden sibling that replaces `final` once complete) and write it."""
    config.save(out)
    if verbose:
        device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
        print(
            f"training on {len(data.x_train)} images {data.image_shape} from {data.source}, {device}, "
            f"strategy {config.strategy}"
        )

    with strategy.scope():
        if checkpoint:
            vae = load_vae(checkpoint[1] / "vae.keras", config.image_shape, config.latent_dim)
            history = read_history(checkpoint[1] / "history.json", checkpoint[0])
        else:
            vae = VAE(tuple(config.image_shape), config.latent_dim, seed=config.seed, name="vae")
            steps = schedule.steps_per_epoch(len(data.x_train), config.batch_size)
            vae.compile(
                optimizer=keras.optimizers.Adam(
                    schedule.learning_rate(config.lr_schedule, config.learning_rate, config.epochs, steps)
                ),
                jit_compile="auto" if config.jit_compile is None else config.jit_compile,
            )
            history = {}
    config.used = {
        "policy": keras.mixed_precision.global_policy().name,
        "jit_compile": bool(vae.jit_compile),
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
        "batchnorm": batchnorm_used(config, len(data.x_train)),
    }
    config.save(out)  # with what the step really runs as
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
    best = schedule.best_epoch(history)
    if best and best != len(history.get("loss", [])):  # keep the best held-out epoch, not the last
        with strategy.scope():
            vae = keras.saving.load_model(checkpoint_model(out, best))
    test = vae.evaluate(test_ds, verbose=0, return_dict=True)
    write_final(out, vae, config, history, test, best, last, heldout_record(config, len(data.x_test)))
    if out != final:  # --force over an existing run: the new one is complete, swap it in whole
        atomic.publish_directory(out, final, replace=True, owned=is_run, what="run")
    return final


def precision_policy(mixed_precision: bool) -> str:
    """Keras dtype policy: float16 compute on GPUs, bfloat16 on CPUs (outputs and loss stay float32)."""
    if not mixed_precision:
        return "float32"
    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


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


def batchnorm_used(config: TrainConfig, n_train: int) -> dict:
    """What train_config.json's `used` says about the BatchNorm statistics of the kept model."""
    if not config.bn_stats_images:
        return {"statistics": "Keras moving averages (momentum 0.99)"}
    return {
        "statistics": "precise: population mean and variance of each layer's inputs over one pass, weights "
        "frozen, batch statistics as in training (vaedge.train.batchnorm)",
        "images": min(config.bn_stats_images, n_train),
        "batch_size": config.batch_size,
        "when": "before every validation, so every checkpoint and the kept model",
    }


def heldout_record(config: TrainConfig, n_test: int) -> dict:
    """metrics.json's note on how the held-out figures were computed."""
    return {
        "test_images": n_test,
        "test_eps": f"fixed: test image i's eps is numpy default_rng([{config.seed}, i]).standard_normal("
        f"{config.latent_dim}), as `vaedge evaluate --k 1 --seed {config.seed}` draws it",
    }


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
    """Stop on a non-finite loss; otherwise append to `history` and publish `checkpoints/epoch-NNNN/`."""

    def __init__(self, out: Path, history: dict, early_stop: int | None = None):
        super().__init__()
        self.out, self.history, self.early_stop = out, history, early_stop

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if not math.isfinite(logs.get("loss", math.nan)):
            raise TrainingError(
                f"loss became {logs.get('loss')} in epoch {epoch + 1}; training stopped "
                f"(last good checkpoint: epoch {epoch}); try a lower --learning-rate"
            )
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        publish_checkpoint(self.out, epoch + 1, self.model, self.history)
        if schedule.should_stop(self.history, self.early_stop):
            self.model.stop_training = True
