"""Numbers and run directories from strangers: every numeric option of train at its extremes,
and tampered run directories given to --resume. Each is one line and nothing runs or is written."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import pytest
from typer.testing import CliRunner

from tests.vaedge_command import one_line
from vaedge.cli import app

runner = CliRunner()
pytestmark = pytest.mark.reliability


@pytest.mark.parametrize(
    "option, value",
    [
        ("--seed", "-1"),
        ("--seed", str(2**32)),
        ("--seed", str(10**30)),
        ("--latent-dim", "100000000"),
        ("--latent-dim", "0"),
        ("--epochs", "0"),
        ("--epochs", str(10**12)),
        ("--batch-size", str(10**9)),
        ("--batch-size", "-5"),
        ("--learning-rate", "inf"),
        ("--learning-rate", "nan"),
        ("--learning-rate", "0"),
        ("--learning-rate", "1e308"),
        ("--limit", "0"),
        ("--limit", str(10**15)),
        ("--early-stop", "0"),
        ("--channels", "2"),
        ("--image-size", "0 0"),
        ("--image-size", "100000 100000"),
        ("--image-size", "30 30"),
    ],
)
def test_train_numbers_at_their_extremes(tmp_path, fashion_mnist_dir, option, value, reliability):
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(fashion_mnist_dir),
            "--out",
            str(out),
            "--quiet",
            option,
            *value.split(),
        ],
    )
    assert one_line(result), (option, value, result.output, result.exception)
    assert not out.exists() or not any(out.iterdir())
    reliability(
        "bad input: train numeric options at their extremes (seed, latent dim, epochs, rates, sizes)",
        "one line, nothing written",
    )


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "1e300"])
def test_peer_timeout_extremes(tmp_path, value, monkeypatch, reliability):
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {
                "cluster": {"worker": ["localhost:1", "localhost:2"]},
                "task": {"type": "worker", "index": 0},
            }
        ),
    )
    result = runner.invoke(
        app,
        ["train", "--strategy", "multiworker", "--out", str(tmp_path / "run"), "--peer-timeout", value],
    )
    assert one_line(result) and "peer-timeout" in result.output, result.output
    reliability(
        "bad input: train --peer-timeout inf, nan, <= 0, huge",
        "one line before any wait",
    )


# ------------------------------------------------------------------ tampered run directories
def resumable(trained_run, tmp_path):
    """A copy of a finished run that looks killed after its last checkpoint (no final files)."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    for name in ("metrics.json", "encoder.keras", "decoder.keras", "samples.png"):
        (run / name).unlink(missing_ok=True)
    last = max((run / "checkpoints").glob("epoch-*"))
    return run, last


def rewrite_keras_config(path, edit):
    with zipfile.ZipFile(path) as archive:
        members = {m.filename: archive.read(m.filename) for m in archive.infolist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())


def _callable(config):
    config["config"]["dtype"] = {
        "module": "os",
        "class_name": "system",
        "config": {"command": "touch /tmp/pwned"},
        "registered_name": None,
    }


def _lambda(config):
    config["compile_config"] = {
        "loss": {
            "module": "keras.layers",
            "class_name": "Lambda",
            "config": {"function": {"class_name": "__lambda__"}},
            "registered_name": None,
        }
    }


TAMPER = {
    "history not JSON": lambda run, last: (last / "history.json").write_text("{not json"),
    "history NaN": lambda run, last: (last / "history.json").write_text('{"loss": [NaN, 1.0]}'),
    "history wrong length": lambda run, last: (last / "history.json").write_text('{"loss": [1.0]}'),
    "history a list": lambda run, last: (last / "history.json").write_text("[1, 2]"),
    "checkpoint swapped for the encoder": lambda run, last: shutil.copy(
        run.parent / "encoder.keras", last / "vae.keras"
    ),
    "checkpoint not a zip": lambda run, last: (last / "vae.keras").write_bytes(b"PK\x03\x04garbage"),
    "checkpoint naming os.system": lambda run, last: rewrite_keras_config(last / "vae.keras", _callable),
    "checkpoint holding a Lambda": lambda run, last: rewrite_keras_config(last / "vae.keras", _lambda),
    "checkpoint of latent dim 10^8": lambda run, last: rewrite_keras_config(
        last / "vae.keras", lambda c: c["config"].update(latent_dim=100_000_000)
    ),
    "config latent dim 10^8": lambda run, last: _edit_config(run, latent_dim=100_000_000),
    "config seed -1": lambda run, last: _edit_config(run, seed=-1),
    "config epochs as text": lambda run, last: _edit_config(run, epochs="3"),
    "config image_size text": lambda run, last: _edit_config(run, image_size="abc"),
    "config image_shape huge": lambda run, last: _edit_config(run, image_shape=[10**9, 28, 1]),
    "config learning rate 1e308": lambda run, last: _edit_config(run, learning_rate=1e308),
    "config limit float": lambda run, last: _edit_config(run, limit=2.5),
    "run_info image_shape text": lambda run, last: (run / "run_info.json").write_text('{"image_shape": "abc"}'),
    "run_info not an object": lambda run, last: (run / "run_info.json").write_text("[28, 28, 1]"),
    "config 5000-digit int": lambda run, last: (run / "train_config.json").write_text(
        (run / "train_config.json").read_text().replace('"epochs": 2', '"epochs": ' + "9" * 5000)
    ),
}


def _edit_config(run, **fields):
    config = json.loads((run / "train_config.json").read_text())
    config.update(fields)
    (run / "train_config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("tamper", list(TAMPER))
def test_tampered_run_directories_are_one_line(trained_run, tmp_path, tamper, reliability):
    run, last = resumable(trained_run, tmp_path)
    shutil.copy(trained_run / "encoder.keras", tmp_path / "encoder.keras")
    TAMPER[tamper](run, last)
    result = runner.invoke(app, ["train", "--out", str(run), "--resume", "--quiet"])
    assert one_line(result), (tamper, result.output, result.exception)
    assert not (run / "metrics.json").exists()
    reliability(f"tampered run dir for --resume: {tamper}", "one line, nothing loaded or run")


def test_limit_applies_before_resizing(monkeypatch, reliability):
    """`--image-size 112 112 --limit 64` on a source that returns every image (the Keras download):
    only 64 training images are converted and resized, not 60 000."""
    import numpy as np

    from vaedge.train import data

    arrays = {
        "x_train": np.zeros((60_000, 28, 28), np.uint8),
        "x_test": np.zeros((100, 28, 28), np.uint8),
        "y_train": np.zeros(60_000, np.uint8),
        "y_test": np.zeros(100, np.uint8),
    }
    monkeypatch.setattr(
        data,
        "_load_named",
        lambda name, limit: ("keras.datasets.fashion_mnist", dict(arrays)),
    )
    seen, real_fit = [], data._fit
    monkeypatch.setattr(data, "_fit", lambda x, *args: seen.append(len(x)) or real_fit(x, *args))
    dataset = data.load_dataset("fashion_mnist", image_size=(112, 112), limit=64)
    assert dataset.x_train.shape == (64, 112, 112, 1) and len(dataset.y_train) == 64 and seen == [64, 100]
    reliability(
        "memory: --image-size with --limit on a whole downloaded dataset",
        "only the kept images resized",
    )
