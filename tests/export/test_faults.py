"""Export and training into a full disk or a directory they may not write: one line, nothing partial; an
export killed midway, and one that replaces a bundle."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
from typer.testing import CliRunner

from tests.faults import DISK_FULL, NO_WRITE, full_disk, leftovers, unwritable_dir
from tests.vaedge_command import command, vaedge
from vaedge.cli import app
from vaedge.runtime.parity import validate_stored

runner = CliRunner()


@pytest.mark.reliability
def test_export_on_a_full_disk_leaves_no_bundle(trained_run, fashion_mnist_dir, reliability):
    with full_disk(128) as (root, fault):  # room for some graphs, not for all of them
        result = vaedge("export", trained_run, "--out", root / "b", "--data", fashion_mnist_dir, **fault)
        assert result.returncode == 1 and result.stderr.strip().splitlines()[-1] in DISK_FULL, result.stderr[-500:]
        assert leftovers(root) == []
    reliability("disk full: vaedge export", "one-line error, no bundle or staging directory left")


@pytest.mark.reliability
@pytest.mark.parametrize("command", ["export", "train"])
def test_unwritable_out_is_one_line_naming_it(trained_run, fashion_mnist_dir, command, reliability):
    with unwritable_dir() as root:
        out = root / "target"
        if command == "export":
            result = vaedge("export", trained_run, "--out", out, "--data", fashion_mnist_dir)
        else:
            result = vaedge("train", "--data", fashion_mnist_dir, "--epochs", 1, "--limit", 64, "--out", out)
        last = result.stderr.strip().splitlines()[-1]
        assert result.returncode == 1 and last.startswith("error: ") and str(out) in last
        assert any(reason in last for reason in NO_WRITE) and leftovers(root) == []
    reliability(f"permission denied: vaedge {command} --out", "one-line error naming the path, nothing written")


def _export_then_kill(trained_run, data, out, extra=()):
    cmd = command("export", trained_run, "--out", out, "--data", data, *extra)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    deadline = time.monotonic() + 120
    # Kill once the staging directory holds a graph: mid-export, after real files were written.
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.endswith(".partial") and any(p.glob("*.onnx")) for p in out.parent.glob(f".{out.name}.*")):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.reliability
def test_killed_export_leaves_no_bundle_or_the_old_one(tmp_path, trained_run, fashion_mnist_dir, bundle, reliability):
    out = tmp_path / "b"
    _export_then_kill(trained_run, fashion_mnist_dir, out)
    assert not out.exists()
    reliability("export: SIGKILL mid-export", "no bundle at --out")
    old = tmp_path / "old"
    shutil.copytree(bundle, old)
    before = (old / "vaedge.json").read_bytes()
    _export_then_kill(trained_run, fashion_mnist_dir, old, extra=["--force"])
    assert (old / "vaedge.json").read_bytes() == before
    assert validate_stored(old)
    reliability("export --force: SIGKILL mid-export", "previous bundle intact and valid")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and not p.name.endswith(".partial")]


def test_force_replaces_whole_bundle(tmp_path, trained_run, fashion_mnist_dir):
    out = tmp_path / "b"
    args = [
        "export",
        str(trained_run),
        "--out",
        str(out),
        "--data",
        str(fashion_mnist_dir),
        "--precision",
        "fp16",
        "--no-tflite",
    ]
    assert runner.invoke(app, args).exit_code == 0
    assert (out / "decoder.fp16.onnx").exists()
    result = runner.invoke(
        app, ["export", str(trained_run), "--out", str(out), "--data", str(fashion_mnist_dir), "--no-tflite", "--force"]
    )
    assert result.exit_code == 0, result.output
    assert not (out / "decoder.fp16.onnx").exists() and not (out / "decoder.fp16.ort").exists()
    assert sorted(p.name for p in out.iterdir()) == [
        "decoder.onnx",
        "decoder.ort",
        "encoder.onnx",
        "encoder.ort",
        "parity.npz",
        "required_operators.config",
        "vaedge.json",
    ]
