"""The suite's one shared run and bundle, built in the background while the tests that need neither run.

`vaedge train` (2 epochs on 2048 real images, latent 2), then `vaedge export --micro` with fp16 and int8
(piped, 80 columns): each its own process, as a user runs them, waited on by a thread. Under pytest-xdist
every worker starts one; a lock beside the build makes the first the builder and the others wait for its
result, so the suite trains and exports once however many workers run it.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

EXPORT_ARGS = ["--precision", "fp16", "--precision", "int8", "--micro"]


def shared_root(tmp_path_factory) -> Path:
    """Where the build goes: one folder for the whole run (all xdist workers), else the session's own."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent / "shared"  # this run's, above each worker's basetemp
        root.mkdir(exist_ok=True)
        return root
    return tmp_path_factory.mktemp("shared")


def _locked(lock) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _write_json(path: Path, value) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(value))
    partial.rename(path)


class SharedBuild:
    """Starts building in `root` (or waits for the worker that does). VAEDGE_TEST_RUN names a run made
    earlier the same way (the training is skipped)."""

    def __init__(self, root: Path, data: Path):
        self.root, self.data, self.processes, self.failure = root, data, [], None
        self.run_dir = Path(os.environ.get("VAEDGE_TEST_RUN") or root / "runs" / "fm")
        self.done = {"run": threading.Event(), "export": threading.Event()}
        self.export_result = None
        self.building = False
        self.thread = threading.Thread(target=self._build_once, daemon=True)
        self.thread.start()

    def _build_once(self):
        """Build, as the worker holding the lock; or, as another, wait for the builder's markers: `run.json`
        once its run is trained, `result.json` once its bundle is exported (it holds the lock until then)."""
        run_marker, result = self.root / "run.json", self.root / "result.json"
        try:
            with open(self.root / "lock", "w") as lock:
                while not _locked(lock):
                    if run_marker.is_file() and not self.done["run"].is_set():
                        self.failure = json.loads(run_marker.read_text())
                        self.done["run"].set()
                    time.sleep(0.2)
                if result.is_file():
                    self.failure, self.export_result = json.loads(result.read_text())
                    return
                self.building = True
                self._build(run_marker)
                _write_json(result, [self.failure, self.export_result])
        except Exception as exc:  # reported by the fixture that waits, not lost in the thread
            self.failure = self.failure or f"the shared build failed: {exc!r}"
        finally:
            self.building = False
            self.done["run"].set()
            self.done["export"].set()

    def _process(self, argv, cwd=None):
        from tests.cli.terminal import environment

        process = subprocess.Popen(
            argv,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=environment(80),
            text=True,
        )
        self.processes.append(process)
        stdout, stderr = process.communicate()
        return process.returncode, stdout, stderr

    def _build(self, run_marker: Path):
        from tests.vaedge_command import command

        if not os.environ.get("VAEDGE_TEST_RUN"):
            train = ["--epochs", 2, "--limit", 2048, "--batch-size", 128, "--seed", 0, "--quiet"]
            code, _, stderr = self._process(command("train", "--data", self.data, *train, "--out", self.run_dir))
            if code != 0:
                self.failure = f"vaedge train exited {code}: {stderr[-3000:]}"
        _write_json(run_marker, self.failure)
        self.done["run"].set()
        if self.failure is None:
            (self.root / "bundles").mkdir(exist_ok=True)
            argv = command("export", self.run_dir, "--out", "fm", *EXPORT_ARGS, "--data", self.data)
            self.export_result = self._process(argv, cwd=self.root / "bundles")

    def wait(self, stage: str, timeout: float = 1800):
        if not self.done[stage].wait(timeout):
            pytest.fail(f"the shared {stage} took more than {timeout:.0f} s")
        if self.failure:
            pytest.fail(self.failure)

    def stop(self, interrupted: bool):
        """At the session's end: a builder other workers may still wait for finishes, unless interrupted."""
        if self.building and os.environ.get("PYTEST_XDIST_WORKER") and not interrupted:
            self.thread.join(1800)
        for process in self.processes:
            if process.poll() is None:
                process.kill()
