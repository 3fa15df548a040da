"""`vaedge train` for real: files of a run, refusal to overwrite, resume after SIGKILL, NaN, MirroredStrategy."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.vaedge_command import command, vaedge
from vaedge.cli import app
from vaedge.errors import TrainingError
from vaedge.train.config import TrainConfig
from vaedge.train.lifecycle import read_run_info
from vaedge.train.run import last_checkpoint, train

runner = CliRunner()


def test_trained_run_has_every_file(trained_run):
    for name in ("encoder.keras", "decoder.keras", "train_config.json", "metrics.json", "samples.png"):
        assert (trained_run / name).is_file(), name
    config = TrainConfig.load(trained_run)
    info = read_run_info(trained_run)  # run_info.json, or a run made before it: train_config.json's results
    assert info["image_shape"] == [28, 28, 1] and config.latent_dim == 2 and info["versions"]["tensorflow"]
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and len(metrics["history"]["val_kl_loss"]) == 2
    assert math.isfinite(metrics["test_neg_elbo"])
    assert metrics["test_neg_elbo"] == pytest.approx(metrics["test_reconstruction"] + metrics["test_kl"], rel=1e-4)
    # The loss goes down on real data, and stays below an untrained model's ~545 nats
    # (BN moving averages lag on a run this short).
    assert metrics["history"]["loss"][1] < metrics["history"]["loss"][0] and metrics["test_neg_elbo"] < 520
    with Image.open(trained_run / "samples.png") as png:  # 8x8 grid of 28px tiles, 1px gaps, scaled x2
        assert png.size == (2 * (8 * 29 - 1),) * 2
    assert [epoch for epoch, _ in [last_checkpoint(trained_run)]] == [2]


def test_resume_refuses_config_options(tmp_path):
    result = runner.invoke(app, ["train", "--out", str(tmp_path), "--resume", "--epochs", "3"])
    assert result.exit_code == 1 and "drop --epochs" in result.output


@pytest.mark.reliability
def test_resume_after_sigkill_ends_like_an_uninterrupted_run(tmp_path, small_fashion_mnist, reliability):
    """Trains: resuming a killed process is what is tested. 256 images in batches of 64 (4 steps an
    epoch), validated on 256 (small_fashion_mnist), keep the three epochs short; the random-moment kills
    are -m reliability_full (test_faults.py)."""
    out = tmp_path / "run"
    args = ["--epochs", 3, "--limit", 256, "--batch-size", 64, "--quiet", "--out", out]
    proc = subprocess.Popen(
        command("train", "--data", small_fashion_mnist, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while last_checkpoint(out) is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = last_checkpoint(out)
    assert killed_at is not None and killed_at[0] < 3 and not (out / "metrics.json").exists()
    resumed = vaedge("train", "--resume", "--quiet", "--out", out, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 3 and len(metrics["history"]["loss"]) == 3
    assert TrainConfig.load(out).epochs == 3 and last_checkpoint(out)[0] == 3
    again = vaedge("train", "--resume", "--out", out, timeout=120)
    assert again.returncode == 1 and "already finished all 3 epochs" in again.stderr
    reliability("train: SIGKILL right after the first checkpoint, then --resume", "finished all epochs")


@pytest.mark.reliability
def test_nan_loss_stops_with_a_clear_message(tmp_path, small_fashion_mnist, reliability):
    # the largest learning rate the config allows diverges within the first epoch
    config = TrainConfig(data=str(small_fashion_mnist), epochs=2, limit=256, learning_rate=10.0)
    with pytest.raises(TrainingError, match="loss became nan in epoch 1"):
        train(config, tmp_path / "nan", verbose=0)
    assert last_checkpoint(tmp_path / "nan") is None
    reliability("train: loss becomes NaN", "stopped with a message naming the epoch; no checkpoint of it")


MIRRORED = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from vaedge.train.config import TrainConfig
from vaedge.train import run
made = []
original = run._strategy
run._strategy = lambda name: made.append(original(name)) or made[-1]
run.train(TrainConfig(data=sys.argv[1], epochs=1, limit=256, strategy="mirrored"), sys.argv[2], verbose=0)
print("replicas", made[0].num_replicas_in_sync)
"""


def test_mirrored_strategy_on_two_logical_cpus(tmp_path, small_fashion_mnist):
    """Trains: the strategy is what is tested; one epoch on 256 images (2 steps of 128 over two replicas)."""
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED, str(small_fashion_mnist), str(tmp_path / "m")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2" in result.stdout
    assert math.isfinite(json.loads((tmp_path / "m" / "metrics.json").read_text())["test_neg_elbo"])


def test_help_lists_commands_and_missing_extra_names_the_fix(tmp_path):
    assert "train" in runner.invoke(app, ["--help"]).output
    blocked = (
        "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None; "
        "sys.argv = ['vaedge', 'train', '--out', sys.argv[1]]; from vaedge.cli import main; main()"
    )
    result = subprocess.run([sys.executable, "-c", blocked, str(tmp_path / "r")], capture_output=True, text=True)
    assert result.returncode == 1 and "pip install -e '.[train]'" in result.stderr
    assert "Traceback" not in result.stderr
