"""Shared fixtures: the real Fashion-MNIST files and one small trained run reused across stages."""

from __future__ import annotations

import collections
import json
import os
import types
from pathlib import Path

import pytest

from tests.shared_build import SharedBuild, shared_root

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


SHARED = {"trained_run", "exported", "bundle", "micro_bundle"}  # the fixtures of the one shared run and bundle


def _uses_shared(module_items) -> int:
    """0: neither the shared run nor its bundle; 1: the run only; 2: the bundle."""
    used = set().union(*(SHARED & set(getattr(item, "fixturenames", ())) for item in module_items))
    return 2 if used - {"trained_run"} else int(bool(used))


def pytest_collection_modifyitems(config, items):
    """Modules that use neither the shared run nor its bundle run first, then those that use only the run,
    then the rest, so that `shared_build` trains and exports in the background while the others run (a
    module stays whole: its fixtures are set up once)."""
    modules: dict = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    ordered = sorted(modules.values(), key=_uses_shared)  # stable: the collection order within each tier
    items[:] = [item for module_items in ordered for item in module_items]


def _session_build(request, tmp_path_factory, data):
    """A SharedBuild for the session, stopped as the session ends."""
    build = SharedBuild(shared_root(tmp_path_factory), data)
    yield build
    build.stop(interrupted=bool(request.session.shouldstop))


@pytest.fixture(scope="session", autouse=True)
def shared_build(request, tmp_path_factory):
    """Starts the shared run and bundle in the background as the session starts, if a collected test needs
    them (and neither VAEDGE_TEST_BUNDLE nor missing data says otherwise)."""
    data = fashion_mnist_path()
    if os.environ.get("VAEDGE_TEST_BUNDLE") or data is None or not _uses_shared(request.session.items):
        yield None
    else:
        yield from _session_build(request, tmp_path_factory, data)


@pytest.fixture(scope="session")
def shared(request, shared_build, tmp_path_factory, fashion_mnist_dir):
    """The background build, or one started now (a session that did not start it at its beginning)."""
    if shared_build is not None:
        yield shared_build
    else:
        yield from _session_build(request, tmp_path_factory, fashion_mnist_dir)


@pytest.fixture(scope="session")
def trained_run(request) -> Path:
    """A run directory from `vaedge train`: 2 epochs on 2048 real images, latent 2 (SharedBuild).
    VAEDGE_TEST_RUN names one made earlier the same way, to save the training while developing."""
    if os.environ.get("VAEDGE_TEST_RUN"):
        return Path(os.environ["VAEDGE_TEST_RUN"])
    build = request.getfixturevalue("shared")
    build.wait("run")
    return build.run_dir


@pytest.fixture(scope="session")
def exported(shared, trained_run):
    """`vaedge export --micro` of the shared run with fp32, fp16 and int8 variants, run as a user runs it (its
    own process, stdout and stderr piped, 80 columns): bundle, skipped ({file: reason}), output (stdout+stderr)."""
    shared.wait("export")
    code, stdout, stderr = shared.export_result
    assert code == 0, stderr[-3000:]
    bundle = shared.root / "bundles" / "fm"
    skipped = json.loads((bundle / "vaedge.json").read_text())["validation"]["skipped"]
    return types.SimpleNamespace(bundle=bundle, skipped=skipped, output=stdout + stderr)


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
