"""Ctrl-C during `vaedge train --force`: the old run stays, no hidden folder is left, and the error line
starts on a line of its own, not glued to the progress bar."""

from __future__ import annotations

import shutil

import pytest

from tests.cli.terminal import Terminal, screen_lines
from tests.vaedge_command import command

pytestmark = pytest.mark.reliability


def test_ctrl_c_during_forced_training_leaves_no_hidden_folder(trained_run, fashion_mnist_dir, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(trained_run, runs / "q")
    old = (runs / "q" / "metrics.json").read_bytes()
    terminal = Terminal(
        command(
            "train",
            "--force",
            "--out",
            "runs/q",
            "--data",
            fashion_mnist_dir,
            "--limit",
            "1024",
            "--epochs",
            "50",
            "--batch-size",
            "16",
        ),
        cwd=tmp_path,
    )
    assert terminal.wait_for(r"\d+/\d+ ━", timeout=600), terminal.text[-3000:]  # inside an epoch, bar drawn
    assert list(runs.glob(".q.*.partial"))  # the forced run builds in a hidden sibling
    terminal.interrupt()
    code, shown = terminal.finish(timeout=300)
    assert code == 130, shown[-3000:]
    errors = [line for line in screen_lines(shown) if "error: interrupted" in line]
    assert errors == ["error: interrupted"], shown[-1500:]
    assert sorted(p.name for p in runs.iterdir()) == ["q"]  # no .q.XXXX.partial left
    assert (runs / "q" / "metrics.json").read_bytes() == old
