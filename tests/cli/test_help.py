"""Help text a newcomer can trust: flags without placeholders, arguments in capitals, one style of defaults."""

from __future__ import annotations

import re

import pytest

from tests.cli.terminal import in_pipes
from tests.vaedge_command import command
from vaedge.cli import COMMANDS


def test_the_top_level_help_lists_every_command():
    """COMMANDS is what `vaedge NAME` dispatches on; `vaedge --help` must offer each of them, and no other."""
    result = in_pipes(command("--help"), timeout=120)
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"^│ ([a-z]+) ", result.stdout, flags=re.M))  # a wrapped line starts with spaces
    assert listed == set(COMMANDS), listed ^ set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_has_no_placeholder_that_does_not_work(name):
    result = in_pipes(command(name, "--help"), timeout=120)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "<bool>" not in text
    assert not re.search(r"\{\w+\}", text), "arguments show as {name}"
    assert "(default" not in text, "defaults are written [default: ...] everywhere"
    for flag in ("--json", "--force", "--quiet", "--verbose", "--unsafe", "--resume"):
        assert f"--no-{flag[2:]}" not in text, f"{flag} is a plain flag"


def test_train_help_shows_the_dataclass_defaults():
    from vaedge.train.config import TrainConfig

    text = " ".join(in_pipes(command("train", "--help"), timeout=120).stdout.split())
    defaults = TrainConfig()
    for value in (defaults.epochs, defaults.batch_size, defaults.data, defaults.lr_schedule):
        assert f"[default: {value}]" in text.replace("│ ", "").replace(" │", "")


def test_a_flag_takes_no_value(bundle):
    result = in_pipes(command("info", bundle, "--json"), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.lstrip().startswith("{")
    refused = in_pipes(command("info", bundle, "--no-json"), timeout=120)
    assert refused.returncode == 2


@pytest.mark.parametrize("epochs, words", [(1, "1 epoch,"), (2, "2 epochs,")])
def test_train_counts_epochs_in_words(epochs, words):
    from pathlib import Path

    from vaedge.cli.train import finished_line

    metrics = {
        "epochs": epochs,
        "test_neg_elbo": 280.0,
        "test_reconstruction": 274.0,
        "test_kl": 6.0,
        "best_epoch": epochs,
        "last_epoch_test_neg_elbo": 280.0,
    }
    assert f"runs/q: {words} test negative ELBO 280.00" in finished_line(Path("runs/q"), metrics)
