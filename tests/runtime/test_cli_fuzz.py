"""The runtime CLI under random arguments and random files: exit 0 with a real PNG, or a clear
error (exit 1: one `error:` line; exit 2: a usage error) and nothing written. Never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from typer.testing import CliRunner

from vaedge.cli import app

runner = CliRunner()
NUMBERISH = st.one_of(
    st.integers(-3, 40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(alphabet="-0123456789.eEnaif", max_size=5),
)
# Counts and grid sizes stay small so each example is quick; huge ones (refused by the memory
# check) have their own tests in test_bad_input.py.
COUNT = st.one_of(
    st.integers(-3, 40).map(str), st.floats(-50, 50).map(str), st.text(alphabet="-0123456789.e", max_size=2)
)


def random_file(directory: Path, data) -> Path:
    kind = data.draw(st.sampled_from(["png", "garbage", "rgb", "npz", "missing"]))
    path = directory / f"input.{'npz' if kind == 'npz' else 'png'}"
    if kind in ("png", "rgb"):
        side = data.draw(st.integers(1, 40))
        mode = "L" if kind == "png" else "RGB"
        pixels = np.random.default_rng(side).integers(
            0, 256, (side, side + 1, 3 if mode == "RGB" else 1), dtype=np.uint8
        )
        Image.fromarray(pixels.squeeze(-1) if mode == "L" else pixels, mode).save(path)
    elif kind == "garbage":
        path.write_bytes(data.draw(st.binary(max_size=64)))
    elif kind == "npz":
        shape = data.draw(st.sampled_from([(3, 28, 28), (2, 28, 28, 1), (2, 5, 5), (0, 28, 28)]))
        np.savez(path, x_test=np.random.default_rng(0).random(shape).astype(np.float32))
    return path


def cli_case(bundle, data, reliability):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out = tmp / "out.png"
        command = data.draw(st.sampled_from(["generate", "reconstruct", "manifold", "encode"]))
        args = [command, str(bundle)]
        if command == "generate":
            args += ["--n", data.draw(COUNT), "--temperature", data.draw(NUMBERISH), "--out", str(out)]
            if data.draw(st.booleans()):
                args += ["--seed", data.draw(NUMBERISH)]
        elif command == "reconstruct":
            args += [str(random_file(tmp, data)), "--out", str(out), "--limit", data.draw(COUNT)]
        elif command == "manifold":
            args += ["--size", data.draw(COUNT), "--out", str(out)]
        else:
            args += [str(random_file(tmp, data)), "--json"]
        args += [
            "--precision",
            data.draw(st.sampled_from(["fp32", "fp16", "int8", "int4", ""])),
            "--backend",
            data.draw(st.sampled_from(["onnx", "onnx", "tflite", "pytorch"])),
        ]
        result = runner.invoke(app, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        if result.exit_code == 0:
            if command != "encode":
                with Image.open(out) as png:
                    png.verify()
            outcome = "exit 0, valid output"
        else:
            assert result.exit_code in (1, 2), result.output
            assert not out.exists() and not [p for p in tmp.iterdir() if p.name.startswith(".")]
            if result.exit_code == 1:
                assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
            outcome = f"exit {result.exit_code}, nothing written"
        reliability(f"fuzz: CLI vaedge {command} (random arguments and files)", outcome)


FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.reliability
@settings(max_examples=150, **FUZZ)
@given(data=st.data())
def test_cli_fuzz(bundle, data, reliability):
    cli_case(bundle, data, reliability)


@pytest.mark.reliability_full
@settings(max_examples=10_000, **FUZZ)
@given(data=st.data())
def test_cli_fuzz_10k(bundle, data, reliability):
    cli_case(bundle, data, reliability)
