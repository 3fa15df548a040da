"""Training that settles and keeps its best: cosine decay, best held-out epoch, early stopping."""

from __future__ import annotations

import json
import shutil

import keras
import numpy as np
import pytest

from vaedge.errors import TrainingError
from vaedge.train.config import TrainConfig
from vaedge.train.run import FINAL_FILES, train
from vaedge.train.schedule import best_epoch, learning_rate, should_stop


def test_cosine_decays_to_zero_and_constant_stays():
    rate = learning_rate("cosine", 1e-3, epochs=10, steps_per_epoch=5)
    assert float(rate(0)) == np.float32(1e-3) and float(rate(25)) < 6e-4 and float(rate(50)) == 0.0
    assert learning_rate("constant", 1e-3, 10, 5) == 1e-3


def test_best_epoch_and_early_stop_read_only_the_history():
    history = {"val_loss": [300.0, 280.0, float("nan"), 285.0, 290.0]}
    assert best_epoch(history) == 2
    assert should_stop(history, 3) and not should_stop(history, 4) and not should_stop(history, None)


def test_run_keeps_its_best_epoch_and_stops_early(tmp_path, small_fashion_mnist):
    """Trains: keeping the best epoch and stopping early are what is tested; 256 images in batches of 32,
    validated on 256 (small_fashion_mnist)."""
    # A learning rate this high makes held-out loss climb after the first epochs: a real best < last.
    config = TrainConfig(
        data=str(small_fashion_mnist),
        epochs=6,
        limit=256,
        batch_size=32,
        learning_rate=0.01,
        lr_schedule="constant",
        early_stop=2,
    )
    run = train(config, tmp_path / "r", verbose=0)
    metrics = json.loads((run / "metrics.json").read_text())
    val = metrics["history"]["val_loss"]
    assert metrics["best_epoch"] == int(np.nanargmin(val)) + 1
    assert len(val) <= 6 and (len(val) == 6 or len(val) - metrics["best_epoch"] == 2)  # stopped 2 epochs after its best
    decoder = keras.saving.load_model(run / "decoder.keras")
    best = keras.saving.load_model(run / "checkpoints" / f"epoch-{metrics['best_epoch']:04d}" / "vae.keras")
    z = np.zeros((2, 2), np.float32)
    np.testing.assert_allclose(decoder(z, training=False), best.decoder(z, training=False), atol=1e-6)
    # fixed held-out eps: the kept model's figure is the one its epoch reported
    assert metrics["test_neg_elbo"] == pytest.approx(min(val), abs=1e-3)
    stopped = len(val) < 6
    with pytest.raises(TrainingError, match="after epoch .* [(]early stop[)]" if stopped else "all 6 epochs"):
        train(config, run, resume=True, verbose=0)
    for name in FINAL_FILES:  # killed after the last checkpoint, before the final files
        (run / name).unlink()
    train(config, run, resume=True, verbose=0)
    again = json.loads((run / "metrics.json").read_text())
    assert again["history"] == metrics["history"] and again["best_epoch"] == metrics["best_epoch"]


def test_resume_keeps_the_schedule_and_the_history(tmp_path, small_fashion_mnist):
    """Trains: resuming the schedule is what is tested; 256 images in batches of 32 (8 steps an epoch),
    validated on 256 (small_fashion_mnist)."""
    config = TrainConfig(data=str(small_fashion_mnist), epochs=3, limit=256, batch_size=32)  # cosine: the default
    run = train(config, tmp_path / "r", verbose=0)
    first = json.loads((run / "metrics.json").read_text())
    shutil.rmtree(run / "checkpoints" / "epoch-0003")  # as if killed during epoch 3
    for name in FINAL_FILES:
        (run / name).unlink()
    train(config, run, resume=True, verbose=0)
    metrics = json.loads((run / "metrics.json").read_text())
    val = metrics["history"]["val_loss"]
    assert metrics["lr_schedule"] == "cosine" and len(val) == 3 and val[:2] == first["history"]["val_loss"][:2]
    assert metrics["best_epoch"] == int(np.argmin(val)) + 1
    optimizer = keras.saving.load_model(run / "checkpoints" / "epoch-0003" / "vae.keras").optimizer
    # the restored schedule went on from step 16 to its end (rate 0), not restarted at its initial rate
    assert int(optimizer.iterations) == 3 * 8 and float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
