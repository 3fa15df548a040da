"""`vaedge train`: fit the VAE on a tf.data pipeline, checkpoint each epoch, write the run directory.

A run directory holds `train_config.json` from the start, `checkpoints/epoch-NNNN/` (each
published by one rename, so a half-written checkpoint never exists under its final name) and, once
training ends, `encoder.keras`, `decoder.keras`, `metrics.json` and `samples.png`.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaedge.errors import TrainingError
from vaedge.io import atomic
from vaedge.io.images import save_grid
from vaedge.train import schedule
from vaedge.train.config import TrainConfig, is_run
from vaedge.train.data import load_dataset
from vaedge.train.checkpoint import load_vae, read_history
from vaedge.train.model import VAE  # also registers VAE/Sampling for checkpoint loading
from vaedge.versions import versions

CHECKPOINTS = "checkpoints"
CHECKPOINT_RE = re.compile(r"^epoch-(\d{4})$")
FINAL_FILES = ("encoder.keras", "decoder.keras", "metrics.json", "samples.png")
SAMPLE_GRID = 8


def last_checkpoint(run_dir: Path) -> tuple[int, Path] | None:
    """(epoch, directory) of the newest complete checkpoint, or None."""
    found = []
    for path in (Path(run_dir) / CHECKPOINTS).glob("epoch-*"):
        match = CHECKPOINT_RE.match(path.name)
        if match and (path / "vae.keras").is_file() and (path / "history.json").is_file():
            found.append((int(match.group(1)), path))
    return max(found) if found else None


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
            done = f"all {config.epochs} epochs" if checkpoint[0] >= config.epochs else f"after epoch {checkpoint[0]} (early stop)"
            raise TrainingError(f"{out}: already finished {done}; nothing to resume")
    else:
        config.validate()
        atomic.check_directory_target(out, force, is_run, "run")  # before any work
        checkpoint = None
    final = out
    keras.utils.set_random_seed(config.seed)
    policy = precision_policy(config.mixed_precision)
    keras.mixed_precision.set_global_policy(policy)
    strategy = _strategy(config.strategy)
    image_size = tuple(config.image_size) if config.image_size else None
    data = load_dataset(config.data, image_size, config.channels, config.limit, config.seed)
    if config.image_shape is not None and list(data.image_shape) != list(config.image_shape):
        raise TrainingError(f"{config.data}: images are {data.image_shape}, the run was made with {config.image_shape}")
    config.image_shape = list(data.image_shape)
    config.versions = config.versions or _versions()
    if not resume:  # only now that the data loaded: a run that fails on its data leaves nothing
        out = _claim_run_dir(out)
    config.save(out)
    if verbose:
        device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
        print(f"training on {len(data.x_train)} images {data.image_shape} from {data.source}, {device}, "
              f"strategy {config.strategy}")

    with strategy.scope():
        if checkpoint:
            vae = load_vae(checkpoint[1] / "vae.keras", config.image_shape, config.latent_dim)
            history = read_history(checkpoint[1] / "history.json", checkpoint[0])
        else:
            vae = VAE(tuple(config.image_shape), config.latent_dim, seed=config.seed, name="vae")
            steps = schedule.steps_per_epoch(len(data.x_train), config.batch_size)
            vae.compile(
                optimizer=keras.optimizers.Adam(schedule.learning_rate(config.lr_schedule, config.learning_rate,
                                                                       config.epochs, steps)),
                jit_compile="auto" if config.jit_compile is None else config.jit_compile,
            )
            history = {}
    config.used = {"policy": policy, "jit_compile": bool(vae.jit_compile), "tf_intra_op_threads":
                   tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()}
    config.save(out)  # with what the step really runs as
    initial_epoch = checkpoint[0] if checkpoint else 0
    train_ds = pipeline(data.x_train, config.batch_size, shuffle_seed=config.seed)
    test_ds = pipeline(data.x_test, config.batch_size)
    vae.fit(
        train_ds,
        validation_data=test_ds,
        # killed after the checkpoint that met --early-stop: nothing more to train, only the final files
        epochs=initial_epoch if schedule.should_stop(history, config.early_stop) else config.epochs,
        initial_epoch=initial_epoch,
        shuffle=False,  # the tf.data pipeline shuffles
        callbacks=[EpochCheckpoint(out, history, config.early_stop)],
        verbose=verbose,
    )
    last = vae.evaluate(test_ds, verbose=0, return_dict=True)
    best = schedule.best_epoch(history)
    if best and best != len(history.get("loss", [])):  # keep the best held-out epoch, not the last
        with strategy.scope():
            vae = keras.saving.load_model(out / CHECKPOINTS / f"epoch-{best:04d}" / "vae.keras")
    test = vae.evaluate(test_ds, verbose=0, return_dict=True)
    _write_final(out, vae, config, history, test, best, last)
    if out != final:  # --force over an existing run: the new one is complete, swap it in whole
        atomic.publish_directory(out, final, replace=True, owned=is_run, what="run")
    return final


def precision_policy(mixed_precision: bool) -> str:
    """Keras dtype policy: float16 compute on GPUs, bfloat16 on CPUs (outputs and loss stay float32)."""
    if not mixed_precision:
        return "float32"
    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


def _claim_run_dir(out: Path) -> Path:
    """The directory to train in: `out` itself when new, else (a forced replacement of a run) a hidden
    sibling that replaces `out` only once the new run is complete, so a failed run destroys nothing."""
    if out.is_dir() and any(out.iterdir()):
        return atomic.sibling_directory(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _strategy(name: str):
    if name == "default":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices=devices)


def pipeline(images: np.ndarray, batch_size: int, shuffle_seed: int | None = None):
    ds = tf.data.Dataset.from_tensor_slices(images)
    if shuffle_seed is not None:
        ds = ds.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)


def _versions() -> dict[str, str]:
    return {**versions("numpy", "tensorflow", "keras"), "keras_backend": keras.backend.backend()}


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
        _publish_checkpoint(self.out, epoch + 1, self.model, self.history)
        if schedule.should_stop(self.history, self.early_stop):
            self.model.stop_training = True


def _publish_checkpoint(out: Path, epoch: int, vae, history: dict) -> None:
    # replace: an epoch left by a run that died after it, before finishing
    with atomic.staged_directory(out / CHECKPOINTS / f"epoch-{epoch:04d}", replace=True) as staging:
        vae.save(staging / "vae.keras")
        atomic.write_json(staging / "history.json", history)


def _write_final(out: Path, vae, config: TrainConfig, history: dict, test: dict, best: int, last: dict) -> None:
    """encoder.keras and decoder.keras from `vae` (the best epoch's), samples, and metrics.json with
    the kept (best) epoch's held-out figures and the last epoch's beside them."""
    for name, model in (("encoder.keras", vae.encoder), ("decoder.keras", vae.decoder)):
        with atomic.temporary_sibling(out / name, suffix=".keras") as tmp:
            model.save(tmp)
            os.replace(tmp, out / name)
    z = np.random.default_rng(config.seed).standard_normal((SAMPLE_GRID**2, config.latent_dim)).astype(np.float32)
    samples = np.asarray(vae.decoder(z, training=False), dtype=np.float32)
    save_grid(out / "samples.png", samples, columns=SAMPLE_GRID)
    metrics = {
        "epochs": len(history.get("loss", [])),
        "history": history,
        "test_neg_elbo": float(test["loss"]),
        "test_reconstruction": float(test["reconstruction_loss"]),
        "test_kl": float(test["kl_loss"]),
        "best_epoch": best,
        "last_epoch_test_neg_elbo": float(last["loss"]),
        "lr_schedule": config.lr_schedule,
        "units": "nats per image",
    }
    atomic.write_json(out / "metrics.json", metrics)
