"""The cluster of a multi-worker run: `TF_CONFIG` read and checked, and the strategy started first.

TensorFlow configures collective ops only at program start-up, so `start()` must run before any
other TensorFlow call (the CLI calls it before it initialises TensorFlow). Starting blocks until
every task of the cluster has registered with the chief; the wait is bounded by `peer_timeout`.
This module imports TensorFlow only inside `start()`.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from vaedge.errors import TrainingError

TF_CONFIG = "TF_CONFIG"
DEFAULT_PEER_TIMEOUT = 120.0
MAX_PEER_TIMEOUT = 86400.0  # a day
JOBS = ("chief", "worker")  # TensorFlow numbers tasks chief first, then workers
EXAMPLE = '{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}'
_started = None  # (strategy, cluster) once start() succeeded: one strategy per process


@dataclass(frozen=True)
class Cluster:
    """Every task as (job, index, address) in TensorFlow's order, and which one this process is."""

    tasks: tuple[tuple[str, int, str], ...]
    job: str
    index: int

    @property
    def name(self) -> str:
        return f"{self.job} {self.index}"

    @property
    def address(self) -> str:
        return next(a for j, i, a in self.tasks if (j, i) == (self.job, self.index))

    @property
    def is_chief(self) -> bool:
        """The task that writes the run: `chief` if the cluster has one, else worker 0."""
        return (self.job, self.index) == self.tasks[0][:2]

    @property
    def chief(self) -> str:
        job, index, address = self.tasks[0]
        return f"{job} {index} ({address})"

    def peers(self) -> list[tuple[str, str]]:
        """(name, address) of every other task."""
        return [(f"{j} {i}", a) for j, i, a in self.tasks if (j, i) != (self.job, self.index)]


def parse_tf_config(text: str | None) -> Cluster:
    """Read a TF_CONFIG value; raise TrainingError naming every problem found in it."""
    if text is None or not text.strip():
        raise TrainingError(
            f"--strategy multiworker needs {TF_CONFIG}: set it on every task, e.g. {TF_CONFIG}='{EXAMPLE}'"
        )
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise TrainingError(f"{TF_CONFIG} is not valid JSON ({exc}); expected e.g. {EXAMPLE}") from None
    if not isinstance(raw, dict):
        raise TrainingError(f"{TF_CONFIG} must be a JSON object like {EXAMPLE}")
    problems, tasks = [], []
    cluster = raw.get("cluster")
    if not isinstance(cluster, dict) or not cluster:
        problems.append('"cluster" must be an object mapping "chief"/"worker" to lists of "host:port"')
        cluster = {}
    for job, addresses in cluster.items():
        if job not in JOBS:
            problems.append(
                f"cluster job {json.dumps(job)[:60]} is not used by multi-worker training (only {', '.join(JOBS)})"
            )
        elif not isinstance(addresses, list) or not addresses:
            problems.append(f'cluster "{job}" must be a non-empty list of "host:port"')
        elif job == "chief" and len(addresses) > 1:
            problems.append(f'cluster "chief" has {len(addresses)} addresses; at most one')
        else:
            problems += [
                f'cluster "{job}"[{i}] = {json.dumps(a)[:60]} is not "host:port"'
                for i, a in enumerate(addresses)
                if not _is_address(a)
            ]
    for job in JOBS:
        tasks += [(job, i, a) for i, a in enumerate(cluster.get(job) or []) if job in cluster and isinstance(a, str)]
    seen = [a for _, _, a in tasks]
    problems += [f"address {a} appears {seen.count(a)} times" for a in sorted(set(seen)) if seen.count(a) > 1]
    task = raw.get("task")
    job = index = None
    if not isinstance(task, dict):
        problems.append('"task" must be an object like {"type": "worker", "index": 0}')
    else:
        job, index = task.get("type"), task.get("index")
        if job not in JOBS or job not in cluster:
            problems.append(f"task type {json.dumps(job)} is not a job of the cluster ({', '.join(cluster) or 'none'})")
        elif not isinstance(index, int) or isinstance(index, bool):
            problems.append(f"task index {json.dumps(index)} is not an integer")
        elif not 0 <= index < len(cluster[job] if isinstance(cluster[job], list) else []):
            size = len(cluster[job]) if isinstance(cluster[job], list) else 0
            problems.append(
                f'task index {index} is outside the cluster: "{job}" has {size} task(s), indices 0..{size - 1}'
            )
    if problems:
        raise TrainingError(f"{TF_CONFIG}: " + "; ".join(problems))
    return Cluster(tuple(tasks), job, index)


HOST = re.compile(r"^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252}))$")  # a DNS name, IPv4 or [IPv6]


def _is_address(value) -> bool:
    """`host:port` with a plain host name or IP (no escapes, spaces or bidi marks: it gets printed)."""
    if not isinstance(value, str) or ":" not in value or len(value) > 300:
        return False
    host, port = value.rsplit(":", 1)
    return bool(HOST.match(host)) and port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536


def wanted(strategy: str | None, out: Path, resume: bool) -> bool:
    """Whether a `vaedge train` call trains across workers: `--strategy multiworker`, or `--resume` of
    such a run (a worker other than the chief may not have the run directory: TF_CONFIG decides)."""
    if not resume:
        return strategy == "multiworker"
    from vaedge.train.config import CONFIG_FILE, TrainConfig

    if (Path(out) / CONFIG_FILE).exists():
        return TrainConfig.load(out).strategy == "multiworker"
    return bool(os.environ.get(TF_CONFIG))


def start(peer_timeout: float = DEFAULT_PEER_TIMEOUT):
    """Create the MultiWorkerMirroredStrategy that TF_CONFIG describes and wait, at most `peer_timeout`
    seconds, for every task to come up. Returns (strategy, cluster); idempotent."""
    global _started
    if _started is not None:
        return _started
    cluster = parse_tf_config(os.environ.get(TF_CONFIG))
    if not 0 < peer_timeout <= MAX_PEER_TIMEOUT:  # NaN fails too; inf would overflow the watchdog's timer
        raise TrainingError(f"--peer-timeout must be > 0 and at most {MAX_PEER_TIMEOUT:g} seconds, got {peer_timeout}")
    _check_own_port(cluster)
    from vaedge.quiet import native_stderr_silenced

    watchdog = _Watchdog(cluster, peer_timeout)  # before TensorFlow loads: it spawns a process
    with native_stderr_silenced():
        import tensorflow as tf
        from tensorflow.python.eager import context

        if context.context()._context_handle is not None:  # noqa: SLF001 - no public "is initialised"
            watchdog.cancel()
            raise TrainingError(
                "TensorFlow was initialised before the multi-worker strategy was created; "
                "call vaedge.train.cluster.start() before any other TensorFlow call"
            )
        try:
            watchdog.arm()
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
        except (tf.errors.OpError, RuntimeError) as exc:
            raise TrainingError(_not_assembled(cluster, peer_timeout, exc)) from None
        finally:
            watchdog.cancel()
    _started = (strategy, cluster)
    return _started


# Runs in a helper process: waits on a pipe that only faulthandler's watchdog ever writes to.
_EXPLAIN = """
import json, socket, sys
text, peers = json.loads(sys.argv[1])
if not sys.stdin.buffer.read(1):
    sys.exit(0)
def answers(address):
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return True
    except OSError:
        return False
silent = [name + " (" + address + ")" for name, address in peers if not answers(address)]
what = "no answer from " + ", ".join(silent) if silent else ("every peer answers, but they did not all join this "
        "cluster (do their TF_CONFIGs list the same addresses?)")
sys.stderr.write("error: " + text.replace("{what}", what) + "\\n")
"""


class _Watchdog:
    """Bounds the wait for peers. MultiWorkerMirroredStrategy() blocks in C++ holding the GIL until
    every task has joined, so no Python thread or signal handler runs meanwhile; faulthandler's C
    thread does: after `timeout` it writes to a pipe and exits the process with status 1, and a helper
    process reading that pipe prints which peers never answered."""

    def __init__(self, cluster: Cluster, timeout: float):
        import subprocess
        import sys

        text = (
            f"{cluster.name} ({cluster.address}): the cluster did not come together within {timeout:g} s: "
            f"{{what}}; start every task of {TF_CONFIG} (same command, each with its own task index) "
            "or raise --peer-timeout"
        )
        read, self.write = os.pipe()
        self.helper = subprocess.Popen(
            [sys.executable, "-c", _EXPLAIN, json.dumps([text, cluster.peers()])], stdin=read
        )
        os.close(read)
        self.timeout = timeout

    def arm(self) -> None:
        import faulthandler

        faulthandler.dump_traceback_later(self.timeout, exit=True, file=self.write)

    def cancel(self) -> None:
        import faulthandler

        faulthandler.cancel_dump_traceback_later()
        os.close(self.write)  # the helper reads end-of-file and exits quietly
        self.helper.wait()


def _check_own_port(cluster: Cluster) -> None:
    port = int(cluster.address.rsplit(":", 1)[1])
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError as exc:
            raise TrainingError(
                f"{cluster.name}: cannot listen on port {port} of {cluster.address} "
                f"({exc.strerror}); pick a free port in {TF_CONFIG}"
            ) from None


def _not_assembled(cluster: Cluster, timeout: float, exc: BaseException) -> str:
    silent = [f"{name} ({address})" for name, address in cluster.peers() if not _answers(address)]
    if silent:
        what = f"no answer from {', '.join(silent)}"
    else:
        what = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return (
        f"{cluster.name} ({cluster.address}): the cluster did not come together within {timeout:g} s: {what}; "
        f"start every task of {TF_CONFIG} (same command, each with its own task index) or raise --peer-timeout"
    )


def lost_message(cluster: Cluster, when: str, exc: BaseException) -> str:
    """One line for a cluster that broke `when` (e.g. "in training"): which peers no longer answer, and
    what to do; the engine's own first line when every peer still answers."""
    silent = [f"{name} ({address})" for name, address in cluster.peers() if not _answers(address)]
    what = (
        f"lost {', '.join(silent)}"
        if silent
        else f"lost the cluster ({(str(exc).strip().splitlines() or [type(exc).__name__])[0]})"
    )
    return (
        f"{cluster.name}: {what} {when}; the last checkpoint is kept: start every task again with --resume "
        "(same command) to finish the run"
    )


def _answers(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return True
    except OSError:
        return False
