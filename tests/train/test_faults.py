"""Training survives SIGKILL at random moments, and fails cleanly on a full disk."""

from __future__ import annotations

import json
import random
import shutil

import keras
import pytest

from tests.faults import DISK_FULL, full_disk, kill_after
from tests.vaedge_command import vaedge
from vaedge.train.config import TrainConfig
from vaedge.train.run import CHECKPOINTS, last_checkpoint

EPOCHS = 3


def kill_and_resume(tmp_path, data, seed: int, reliability) -> None:
    out = tmp_path / f"run{seed}"
    args = ["train", "--data", data, "--epochs", EPOCHS, "--limit", 512, "--batch-size", 64, "--quiet", "--out", out]
    delay = random.Random(seed).uniform(0.5, 14.0)  # import, data loading, mid-epoch, checkpoint writes
    killed = kill_after(delay, *args)
    if (out / "train_config.json").exists():
        resumed = vaedge("train", "--resume", "--quiet", "--out", out)
        if not killed:
            assert resumed.returncode == 1 and "already finished" in resumed.stderr
        else:
            assert resumed.returncode == 0, resumed.stderr[-2000:]
        outcome = "resumed and finished" if killed else "finished before the kill"
    else:  # killed before the run was set up: the same command starts it
        assert not last_checkpoint(out)
        assert vaedge(*args).returncode == 0
        outcome = "killed before setup; rerun finished"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == EPOCHS and all(len(v) == EPOCHS for v in metrics["history"].values())
    config = TrainConfig.load(out)
    assert (config.epochs, config.limit, config.batch_size, config.data) == (EPOCHS, 512, 64, data)
    checkpoints = sorted(p for p in (out / CHECKPOINTS).iterdir())
    assert [p.name for p in checkpoints] == [f"epoch-{e:04d}" for e in range(1, EPOCHS + 1)]
    for checkpoint in checkpoints:
        assert keras.saving.load_model(checkpoint / "vae.keras").optimizer.iterations.numpy() > 0
    reliability("train: SIGKILL at a random moment, then --resume", outcome)


@pytest.mark.reliability_full
@pytest.mark.parametrize("seed", range(25))  # every moment from 0.5 to 14 s: imports, data, epochs, checkpoints
def test_sigkill_at_random_moments_then_resume(tmp_path, fashion_mnist_dir, seed, reliability):
    """Trains up to twice per trial (killed, then resumed): surviving a kill at any moment is what is tested.
    A long trial run, so -m reliability_full; the default run kills once after the first checkpoint
    (tests/train/test_run.py)."""
    kill_and_resume(tmp_path, str(fashion_mnist_dir), seed, reliability)


@pytest.mark.reliability
def test_full_disk_fails_cleanly_and_resume_recovers(small_fashion_mnist, reliability):
    """Trains (a checkpoint into a full disk, then resuming elsewhere, is what is tested): small_fashion_mnist."""
    with full_disk(64) as (root, fault):  # the config fits, a checkpoint does not
        out = root / "run"
        args = ["train", "--data", small_fashion_mnist, "--epochs", 2, "--limit", 256, "--quiet", "--out", out]
        result = vaedge(*args, **fault)
        assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] in DISK_FULL, result.stderr[-500:]
        assert "Traceback" not in result.stderr
        assert last_checkpoint(out) is None and not list((out / CHECKPOINTS).glob(".*"))
        moved = root.parent / f"{root.name}-resumed"
        shutil.copytree(out, moved)  # free space: the same run, continued where there is room
    try:
        assert vaedge("train", "--resume", "--quiet", "--out", moved).returncode == 0
        assert json.loads((moved / "metrics.json").read_text())["epochs"] == 2
    finally:
        shutil.rmtree(moved, ignore_errors=True)
    reliability("disk full: vaedge train while checkpointing", "one-line error, no partial checkpoint; resume finished")
