"""What a training prints into a pipe (a log): a line per epoch (on a terminal: tests/cli/test_progress.py)."""

from __future__ import annotations

from tests.cli.terminal import in_pipes
from tests.vaedge_command import command


def test_train_in_a_pipe_prints_a_line_per_epoch_not_a_redrawn_bar(small_fashion_mnist, tmp_path):
    """Keras redraws its bar even for a pipe (it counts any POSIX system as interactive): a log gets
    Keras' one-line-per-epoch form instead. Trains (what a training prints is what is tested): two short
    epochs on small_fashion_mnist."""
    argv = command("train", "--out", "r", "--data", small_fashion_mnist, "--epochs", "2", "--limit", "256")
    result = in_pipes(argv, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "\r" not in result.stdout and "\x1b[" not in result.stdout and "━" not in result.stdout, result.stdout
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("Epoch ")] == ["Epoch 1/2", "Epoch 2/2"]
    assert sum("val_loss" in line for line in lines) == 2 and lines[-1].startswith("r: 2 epochs")
