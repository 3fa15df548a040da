"""--force replaces only what vaedge made, and only once the new thing is complete; bad run files are one line."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from vaedge.cli import app

runner = CliRunner()
pytestmark = pytest.mark.reliability


def train_args(data, out):
    return ["train", "--data", str(data), "--epochs", "1", "--limit", "256", "--quiet", "--out", str(out)]


def test_force_refuses_a_folder_vaedge_did_not_make(tmp_path, fashion_mnist_dir, reliability):
    mine = tmp_path / "my photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    result = runner.invoke(app, [*train_args(fashion_mnist_dir, mine), "--force"])
    assert result.exit_code == 1 and "is not a run made by vaedge" in result.output, result.output
    assert (
        sorted(p.name for p in mine.iterdir()) == ["holiday.jpg"] and (mine / "holiday.jpg").read_bytes() == b"precious"
    )
    reliability("data loss: train --force on a folder of the user's own files", "refused, every file intact")


def test_forced_run_whose_data_fails_keeps_the_old_run(trained_run, tmp_path, reliability):
    old = tmp_path / "run"
    shutil.copytree(trained_run, old)
    before = sorted(p.relative_to(old) for p in old.rglob("*"))
    result = runner.invoke(app, [*train_args(tmp_path / "no-such-data", old), "--force"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert sorted(p.relative_to(old) for p in old.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no half-made sibling left either
    reliability("data loss: train --force whose --data fails to load", "old run intact, nothing left behind")


def test_run_failing_on_its_data_leaves_no_directory(tmp_path, reliability):
    result = runner.invoke(app, train_args(tmp_path / "missing", tmp_path / "new"))
    assert result.exit_code == 1 and not (tmp_path / "new").exists(), result.output
    reliability("data loss: a new run that fails on its data", "no empty --out left behind")


def test_cli_refuses_to_overwrite_and_forced_run_replaces_a_run_whole(trained_run, tmp_path, small_fashion_mnist):
    """Trains once, one epoch on small_fashion_mnist: replacing a finished run with a new training is what
    is tested (a fresh CLI run is trained in tests/cli/test_progress.py and tests/train/test_run.py)."""
    old = tmp_path / "run"
    shutil.copytree(trained_run, old)
    stamp = (old / "metrics.json").stat().st_mtime_ns
    refused = runner.invoke(app, train_args(small_fashion_mnist, old))
    assert refused.exit_code == 1 and "already exists; pass --force" in refused.output
    assert "Traceback" not in refused.output and (old / "metrics.json").stat().st_mtime_ns == stamp
    result = runner.invoke(app, [*train_args(small_fashion_mnist, old), "--force"])
    assert result.exit_code == 0, result.output
    assert "test negative ELBO" in result.output and (old / "metrics.json").stat().st_mtime_ns != stamp
    assert json.loads((old / "train_config.json").read_text())["limit"] == 256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize(
    "file, content, message",
    [
        ("train_config.json", "{nope", "not valid JSON"),
        (
            "train_config.json",
            json.dumps({"data": "x", "latent_dim": True, "epochs": "ten"}),
            "latent_dim is true, expected a int",
        ),
        ("train_config.json", "[1, 2]", "expected a JSON object"),
        ("metrics.json", "{nope", "not valid JSON"),
        ("metrics.json", json.dumps({"test_neg_elbo": "low"}), "numeric"),
    ],
)
def test_corrupt_run_files_are_one_line(trained_run, tmp_path, file, content, message, reliability):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / file).write_text(content)
    result = runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1 and message in result.output and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "b").exists()
    reliability(f"corrupt run file: {file}", "one line naming the file, nothing written")


def test_forced_run_failing_in_python_leaves_no_hidden_folder(trained_run, tmp_path, small_fashion_mnist, reliability):
    """Called from Python, not the CLI: the failed replacement removes its own hidden sibling."""
    from vaedge.errors import TrainingError
    from vaedge.train.config import TrainConfig
    from vaedge.train.run import train

    old = tmp_path / "run"
    shutil.copytree(trained_run, old)
    before = {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()}
    # the largest learning rate the config allows diverges within the first epoch
    config = TrainConfig(data=str(small_fashion_mnist), epochs=1, limit=256, learning_rate=10.0)
    with pytest.raises(TrainingError, match="loss became nan"):
        train(config, old, force=True, verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no .run.XXXX.partial
    assert {p.relative_to(old): p.read_bytes() for p in old.rglob("*") if p.is_file()} == before
    reliability(
        "data loss: vaedge.train.run.train(force=True) that fails, from Python", "old run intact, no hidden folder"
    )
