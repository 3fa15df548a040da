"""One training run from start to end, the same for both strategies.

`vaedge.train.launch` picks the strategy: `vaedge.train.run` (one process, Keras `fit`) or
`vaedge.train.distributed` (TF_CONFIG's workers, vaedge's own step). Each strategy keeps only how a
step runs and who writes; the rest is here, in the order a run goes through it:

begin (target checks, or resume checks) -> seed and precision -> data -> refuse a resume that does not
match -> claim the run directory -> run_info.json -> the strategy's epochs (each checked by
`check_finite`) -> the best epoch -> final files -> publish; on failure, `discard_claim`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from vaedge.errors import TrainingError
from vaedge.io import atomic
from vaedge.io.files import describe, read_regular
from vaedge.train import run_dir
from vaedge.train.checkpoint import read_history
from vaedge.train.config import CONFIG_FILE, TrainConfig, is_run

RUN_INFO = "run_info.json"  # what the run found and ran as (results, not settings)
MAX_RUN_INFO_BYTES = 1 << 20


@dataclass
class Start:
    """Where a run starts: its config, the checkpoint it continues from (epoch, directory) and its history."""

    config: TrainConfig
    checkpoint: tuple[int, Path] | None = None
    history: dict = field(default_factory=dict)


def begin(config: TrainConfig | None, out: Path, force: bool, resume: bool) -> Start:
    """Checks before any work. A new run: a valid config and a target `out` may be written to. A resumed
    run: the config saved in `out`, stale partial checkpoints removed, and its last checkpoint."""
    if not resume:
        config.validate()
        atomic.check_directory_target(out, force, is_run, "run")
        return Start(config)
    config = TrainConfig.load(out)
    for stale in (out / run_dir.CHECKPOINTS).glob(".epoch-*.partial"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    checkpoint = run_dir.last_checkpoint(out)
    if checkpoint and (out / "metrics.json").is_file():  # written only once training has ended
        done = (
            f"all {config.epochs} epochs"
            if checkpoint[0] >= config.epochs
            else f"after epoch {checkpoint[0]} (early stop)"
        )
        raise TrainingError(f"{out}: already finished {done}; nothing to resume")
    history = read_history(checkpoint[1] / "history.json", checkpoint[0]) if checkpoint else {}
    return Start(config, checkpoint, history)


def seed_and_precision(config: TrainConfig) -> str:
    """Seed Python, NumPy and the backend; set the Keras dtype policy and return its name."""
    import keras

    keras.utils.set_random_seed(config.seed)
    policy = precision_policy(config.mixed_precision)
    keras.mixed_precision.set_global_policy(policy)
    return policy


def precision_policy(mixed_precision: bool) -> str:
    """Keras dtype policy: float16 compute on GPUs, bfloat16 on CPUs (outputs and loss stay float32)."""
    import tensorflow as tf

    if not mixed_precision:
        return "float32"
    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


def load_data(config: TrainConfig):
    """The run's training and held-out images (vaedge.train.data.Dataset)."""
    from vaedge.train.data import load_dataset

    image_size = tuple(config.image_size) if config.image_size else None
    return load_dataset(config.data, image_size, config.channels, config.limit, config.seed)


def check_resume(out: Path, config: TrainConfig, image_shape, resume: bool) -> None:
    """Refuse, in one line, to resume a run whose data now has another image shape (H, W, C) or whose
    config now names another latent dim than the model the run was started with."""
    if not resume:
        return
    info = read_run_info(out)
    made = (info.get("image_shape"), info.get("latent_dim", config.latent_dim))
    if made[0] is None or (list(made[0]), made[1]) == (list(image_shape), config.latent_dim):
        return
    raise TrainingError(
        f"{describe(out)}: cannot resume: the run was started with images {tuple(made[0])} and latent dim "
        f"{made[1]}, now the data gives images {tuple(image_shape)} and the config names latent dim "
        f"{config.latent_dim}"
    )


def read_run_info(out: Path) -> dict:
    """run_info.json of a run, or for a run made before it existed, the results its train_config.json
    then held (image_shape, versions, used); {} when neither says anything."""
    path = Path(out) / RUN_INFO
    legacy = not path.is_file()
    if legacy:
        path = Path(out) / CONFIG_FILE
        if not path.is_file():
            return {}
    try:
        raw = json.loads(read_regular(path, MAX_RUN_INFO_BYTES, TrainingError))
    except ValueError as exc:
        if isinstance(exc, TrainingError):
            raise
        raise TrainingError(f"{describe(path)}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise TrainingError(f"{describe(path)}: expected a JSON object")
    info = {k: raw[k] for k in ("image_shape", "latent_dim", "versions", "used") if k in raw}
    if legacy:
        info.pop("latent_dim", None)  # a setting there, checked against itself
    shape, latent_dim = info.get("image_shape"), info.get("latent_dim", 1)
    if not (shape is None or (isinstance(shape, list) and len(shape) == 3 and all(_count(v) for v in shape))) or not (
        _count(latent_dim)
    ):
        raise TrainingError(f"{describe(path)}: image_shape must be 3 positive integers and latent_dim one")
    return info


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def write_run_info(out: Path, config: TrainConfig, image_shape, used: dict, resume: bool) -> dict:
    """run_info.json: the image shape (H, W, C) and latent dim the model is built for, the library
    versions the run started with (kept on resume) and what the step really runs as (`used`)."""
    previous = read_run_info(out) if resume else {}
    info = {
        "image_shape": list(image_shape),
        "latent_dim": config.latent_dim,
        "versions": previous.get("versions") or run_dir.training_versions(),
        "used": used,
    }
    atomic.write_json(Path(out) / RUN_INFO, info)
    return info


def batchnorm_used(config: TrainConfig, n_train: int) -> dict:
    """What run_info.json's `used` says about the BatchNorm statistics of the kept model."""
    if not config.bn_stats_images:
        return {"statistics": "Keras moving averages (momentum 0.99)"}
    return {
        "statistics": "precise: population mean and variance of each layer's inputs over one pass, weights "
        "frozen, batch statistics as in training (vaedge.train.batchnorm)",
        "images": min(config.bn_stats_images, n_train),
        "batch_size": config.batch_size,
        "when": "before every validation, so every checkpoint and the kept model",
    }


def check_finite(logs: dict, epoch: int) -> None:
    """Stop on a non-finite loss after `epoch` (1-based): the one message both strategies give."""
    import math

    if not math.isfinite(logs.get("loss", math.nan)):
        raise TrainingError(
            f"loss became {logs.get('loss')} in epoch {epoch}; training stopped "
            f"(last good checkpoint: epoch {epoch - 1}); try a lower --learning-rate"
        )


def record_epoch(out: Path, epoch: int, vae, history: dict, logs: dict) -> None:
    """Check the epoch's figures, append them to `history` and publish checkpoints/epoch-NNNN/."""
    check_finite(logs, epoch)
    for key, value in logs.items():
        history.setdefault(key, []).append(float(value))
    run_dir.publish_checkpoint(out, epoch, vae, history)


def best_epoch(history: dict) -> int:
    """The epoch (1-based) with the lowest held-out loss: the one kept."""
    from vaedge.train import schedule  # imports TensorFlow: begin() runs before it is loaded

    return schedule.best_epoch(history)


def finish(
    work: Path, out: Path, vae, config: TrainConfig, history: dict, test: dict, last: dict, info: dict, n_test: int
) -> Path:
    """Write the final files of the kept (best) epoch's `vae` in `work` and, for a forced replacement,
    swap `work` in for `out` whole. `test`, `last`: the kept and last epoch's held-out figures."""
    extra = {**heldout_record(config, n_test), "run": info}
    run_dir.write_final(work, vae, config, history, test, best_epoch(history), last, extra)
    if work != out:  # --force over an existing run: the new one is complete, swap it in whole
        atomic.publish_directory(work, out, replace=True, owned=is_run, what="run")
    return out


def heldout_record(config: TrainConfig, n_test: int) -> dict:
    """metrics.json's note on how the held-out figures were computed."""
    return {
        "test_images": n_test,
        "test_eps": f"fixed: test image i's eps is numpy default_rng([{config.seed}, i]).standard_normal("
        f"{config.latent_dim}), as `vaedge evaluate --k 1 --seed {config.seed}` draws it",
    }
