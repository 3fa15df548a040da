"""The run directory both training strategies write (through `vaedge.train.lifecycle`).

A run directory holds `train_config.json` and `run_info.json` from the start, `checkpoints/epoch-NNNN/` (each
published by one rename, so a half-written checkpoint never exists under its final name) and, once
training ends, `encoder.keras`, `decoder.keras`, `metrics.json` and `samples.png`.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np

from vaedge.io import atomic
from vaedge.io.images import save_grid
from vaedge.train.config import TrainConfig
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


def checkpoint_model(run_dir: Path, epoch: int) -> Path:
    """The saved VAE of checkpoint `epoch`."""
    return Path(run_dir) / CHECKPOINTS / f"epoch-{epoch:04d}" / "vae.keras"


def claim_run_dir(out: Path) -> Path:
    """The directory to train in: `out` itself when new, else (a forced replacement of a run) a hidden
    sibling that replaces `out` only once the new run is complete, so a failed run destroys nothing."""
    if out.is_dir() and any(out.iterdir()):
        return atomic.sibling_directory(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def discard_claim(work: Path, out: Path) -> None:
    """After a failed or interrupted run: remove the hidden sibling `claim_run_dir` made for a forced
    replacement of `out` (the old run stays as it was). A run in `out` itself stays, to resume."""
    if Path(work) != Path(out):
        shutil.rmtree(work, ignore_errors=True)


def training_versions() -> dict[str, str]:
    """Library versions recorded in run_info.json."""
    import keras

    return {**versions("numpy", "tensorflow", "keras"), "keras_backend": keras.backend.backend()}


def publish_checkpoint(out: Path, epoch: int, vae, history: dict) -> None:
    """checkpoints/epoch-NNNN/ with vae.keras and history.json, published by one rename."""
    # replace: an epoch left by a run that died after it, before finishing
    with atomic.staged_directory(out / CHECKPOINTS / f"epoch-{epoch:04d}", replace=True) as staging:
        vae.save(staging / "vae.keras")
        atomic.write_json(staging / "history.json", history)


def write_final(
    out: Path, vae, config: TrainConfig, history: dict, test: dict, best: int, last: dict, extra: dict | None = None
) -> None:
    """encoder.keras and decoder.keras from `vae` (the best epoch's), samples, and metrics.json with
    the kept (best) epoch's held-out figures, the last epoch's beside them, and `extra`."""
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
        **(extra or {}),
    }
    atomic.write_json(out / "metrics.json", metrics)
