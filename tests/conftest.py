"""Shared fixtures: the real Fashion-MNIST files and one small trained run reused across stages."""

from __future__ import annotations

import collections
import json
import os
import types
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def fashion_mnist_path() -> Path | None:
    root = os.environ.get("VAEDGE_DATA_DIR")
    candidates = [Path(root) / "fashion-mnist"] if root else []
    candidates += [
        Path(__file__).resolve().parents[2] / "shared/data/fashion-mnist",
        Path("/usr/share/datasets/fashion-mnist"),
        Path.home() / ".keras/datasets/fashion-mnist",
    ]  # where Keras' own download caches it
    return next((p for p in candidates if (p / "train-images-idx3-ubyte.gz").is_file()), None)


@pytest.fixture(scope="session", autouse=True)
def engine_cache(tmp_path_factory) -> Path:
    """`--backend auto`'s per-user measurement cache (XDG_CACHE_HOME) in a temporary folder for the whole
    session, subprocesses included: tests never write to the real user's cache."""
    root = tmp_path_factory.mktemp("xdg-cache")
    os.environ["XDG_CACHE_HOME"] = str(root)
    return root / "vaedge" / "engines.json"


@pytest.fixture(scope="session", autouse=True)
def typer_command_built_once():
    """typer's CliRunner rebuilds the click command from the Typer app on every invoke (about half of a
    short command's time); the suite invokes the same app hundreds of times, so each app is built once."""
    import typer.testing

    built: dict[int, object] = {}
    build = typer.testing._get_command

    def command_of(app):
        if id(app) not in built:
            built[id(app)] = (app, build(app))  # the app kept alive, so its id is never reused
        return built[id(app)][1]

    typer.testing._get_command = command_of
    yield
    typer.testing._get_command = build


@pytest.fixture(scope="session")
def fashion_mnist_dir() -> Path:
    """The directory of real Fashion-MNIST IDX files (60k train, 10k test)."""
    path = fashion_mnist_path()
    if path is None:
        if os.environ.get("VAEDGE_DATA_DIR"):
            pytest.fail(f"VAEDGE_DATA_DIR={os.environ['VAEDGE_DATA_DIR']} has no fashion-mnist/ IDX files")
        pytest.skip("real Fashion-MNIST not found: set VAEDGE_DATA_DIR to a folder holding fashion-mnist/")
    return path


@pytest.fixture(scope="session")
def small_fashion_mnist(tmp_path_factory, fashion_mnist_dir) -> Path:
    """An .npz of real Fashion-MNIST: the first 512 training and 256 test images with their labels (uint8).
    For the tests where training itself is what is tested: every epoch validates on the whole test split,
    and 256 test images instead of the IDX files' 10,000 keep those trainings short."""
    import numpy as np

    from vaedge.io.idx import read_idx_directory

    arrays = read_idx_directory(fashion_mnist_dir, 512)
    path = tmp_path_factory.mktemp("data") / "fashion-mnist-small.npz"
    np.savez(path, **{k: v[:256] if k.endswith("_test") else v for k, v in arrays.items()})
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, fashion_mnist_dir) -> Path:
    """A run directory from `vaedge.train.run.train`: 2 epochs on 2048 real images, latent 2.
    VAEDGE_TEST_RUN names one made earlier the same way, to save the training while developing."""
    if os.environ.get("VAEDGE_TEST_RUN"):
        return Path(os.environ["VAEDGE_TEST_RUN"])
    from vaedge.train.config import TrainConfig
    from vaedge.train.run import train

    out = tmp_path_factory.mktemp("runs") / "fm"
    config = TrainConfig(data=str(fashion_mnist_dir), epochs=2, limit=2048, batch_size=128, seed=0)
    return train(config, out, verbose=0)


@pytest.fixture(scope="session")
def exported(tmp_path_factory, trained_run, fashion_mnist_dir):
    """`vaedge export --micro` of the shared run with fp32, fp16 and int8 variants, run as a user runs it (its
    own process, stdout and stderr piped, 80 columns): bundle, skipped ({file: reason}), output (stdout+stderr)."""
    from tests.cli.terminal import in_pipes
    from tests.vaedge_command import command

    root = tmp_path_factory.mktemp("bundles")
    args = ["--out", "fm", "--precision", "fp16", "--precision", "int8", "--micro", "--data", fashion_mnist_dir]
    result = in_pipes(command("export", trained_run, *args), timeout=900, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    skipped = json.loads((root / "fm" / "vaedge.json").read_text())["validation"]["skipped"]
    return types.SimpleNamespace(bundle=root / "fm", skipped=skipped, output=result.stdout + result.stderr)


@pytest.fixture(scope="session")
def bundle(request) -> Path:
    """A bundle with fp32/fp16/int8 variants. In a venv without TensorFlow, .ci/run exports one first
    and passes it as VAEDGE_TEST_BUNDLE."""
    if os.environ.get("VAEDGE_TEST_BUNDLE"):
        return Path(os.environ["VAEDGE_TEST_BUNDLE"])
    return request.getfixturevalue("exported").bundle


@pytest.fixture(scope="session")
def micro_bundle(bundle) -> Path:
    """A bundle exported with --micro (int8-I/O batch-1 graphs measured under TFLM): the shared bundle, or
    VAEDGE_TEST_MICRO_BUNDLE, one made earlier."""
    micro = Path(os.environ.get("VAEDGE_TEST_MICRO_BUNDLE") or bundle)
    manifest = json.loads((micro / "vaedge.json").read_text())
    if not isinstance(manifest.get("micro"), dict):  # the section, not export_config's "micro": false
        pytest.fail(f"{micro} was exported without --micro")
    return micro


RELIABILITY: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


@pytest.fixture
def reliability():
    """`record(fault, outcome)`: counted for docs/reliability.md (see tests/reliability_report.py)."""

    def record(fault: str, outcome: str) -> None:
        RELIABILITY[fault][outcome] += 1

    return record


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("VAEDGE_RELIABILITY_REPORT")
    if path and RELIABILITY:
        report = {"exit_status": int(exitstatus), "faults": {k: dict(v) for k, v in sorted(RELIABILITY.items())}}
        Path(path).write_text(json.dumps(report, indent=2) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With VAEDGE_NO_SKIP=1 (tests/run.sh sets it) a skipped test fails: the whole suite must run."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("VAEDGE_NO_SKIP") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome, report.longrepr = "failed", f"skipped under VAEDGE_NO_SKIP=1: {reason}"
