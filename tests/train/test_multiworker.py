"""`vaedge train --strategy multiworker`: two real worker processes on 127.0.0.1, and every bad cluster."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.vaedge_command import command
from vaedge.errors import TrainingError
from vaedge.train.cluster import parse_tf_config
from vaedge.train.distributed import rank

FINAL_FILES = ("encoder.keras", "decoder.keras", "metrics.json", "samples.png", "train_config.json")


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps(
        {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    )


def worker_env(tmp: Path, config: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", TMPDIR=str(tmp))  # scratch directories land where we can look
    if config is not None:
        env["TF_CONFIG"] = config
    return env


def run_cluster(
    tmp: Path, args_for: list[list[str]], timeout: float = 420, chief_in_terminal: bool = False
) -> list[subprocess.CompletedProcess]:
    """Start one `vaedge train --strategy multiworker` per argument list at once; wait for all. With
    `chief_in_terminal`, nobody is --quiet and worker 0 runs in a pseudo-terminal, as a person starts it
    (its CompletedProcess holds what the terminal showed); the others write to files, as a log."""
    from tests.cli.terminal import Terminal

    ports = free_ports(len(args_for))
    quiet = [] if chief_in_terminal else ["--quiet"]
    procs, logs = [], []
    for i, args in enumerate(args_for):
        argv = command("train", *args, *quiet, "--peer-timeout", "120")
        env = worker_env(tmp, tf_config(ports, i))
        if chief_in_terminal and i == 0:
            procs.append(Terminal(argv, TF_CONFIG=env["TF_CONFIG"], TF_CPP_MIN_LOG_LEVEL="3", TMPDIR=str(tmp)))
            logs.append(None)
            continue
        out, err = (tempfile.TemporaryFile("w+") for _ in range(2))  # files: a chatty worker never blocks
        procs.append(subprocess.Popen(argv, env=env, stdout=out, stderr=err, text=True))
        logs.append((out, err))
    results = []
    try:
        for proc, log in zip(procs, logs):
            if log is None:
                code, shown = proc.finish(timeout)
                results.append(subprocess.CompletedProcess(proc.process.args, code, shown, ""))
                continue
            proc.wait(timeout=timeout)
            out, err = (f.seek(0) or f.read() for f in log)
            results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    finally:
        for proc in procs:  # MultiWorkerMirroredStrategy ignores SIGTERM while it waits: kill
            process = getattr(proc, "process", proc)
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory, small_fashion_mnist):
    """Two workers, 2 epochs on small_fashion_mnist's 512 images (validated on its 256), the chief in a
    terminal: (root, [worker 0, worker 1] results). Trains: two real worker processes are what is tested."""
    root = tmp_path_factory.mktemp("multiworker")
    (root / "tmp").mkdir()
    common = ["--data", str(small_fashion_mnist), "--epochs", "2", "--limit", "512", "--strategy", "multiworker"]
    results = run_cluster(
        root / "tmp",
        [[*common, "--out", str(root / "run0")], [*common, "--out", str(root / "run1")]],
        chief_in_terminal=True,
    )
    return root, results


def test_two_workers_train_one_run_that_exports(cluster_run, tmp_path):
    root, results = cluster_run
    for i, result in enumerate(results):
        assert result.returncode == 0, f"worker {i}: {result.stderr[-2000:]}"
    assert "worker 1: done" in results[1].stdout
    assert sorted(p.name for p in root.iterdir()) == ["run0", "tmp"]  # exactly one run directory
    assert list((root / "tmp").iterdir()) == []  # worker 1's scratch checkpoints are gone
    run = root / "run0"
    assert all((run / name).is_file() for name in FINAL_FILES)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    assert all(math.isfinite(v) for values in metrics["history"].values() for v in values)
    assert math.isfinite(metrics["test_neg_elbo"]) and 0 < metrics["test_neg_elbo"] < 560
    config = json.loads((run / "train_config.json").read_text())
    info = json.loads((run / "run_info.json").read_text())
    assert config["strategy"] == "multiworker" and info["used"]["batchnorm"]["workers"] == "sums and counts all-reduced"

    bundle = tmp_path / "bundle"
    exported = subprocess.run(
        command("export", str(run), "--out", str(bundle)),
        capture_output=True,
        text=True,
        env=worker_env(tmp_path, None),
        timeout=600,
    )
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert (bundle / "vaedge.json").is_file()


def test_chief_shows_keras_progress_within_each_epoch_on_a_terminal(cluster_run):
    """512 images over 2 workers at 64 per worker-step: 4 steps an epoch, drawn as Keras draws them;
    each epoch then ends in its own line. Worker 1 writes to a file: no bar there."""
    from tests.cli.terminal import ANSI, screen_lines

    _, (chief, worker) = cluster_run
    shown = ANSI.sub("", chief.stdout)
    assert chief.returncode == 0, shown[-3000:]
    assert re.search(r"\b1/4 ━+", shown) and re.search(r"4/4 ━{20} .*loss: \d", shown), shown[-3000:]
    lines = screen_lines(chief.stdout)
    for epoch in (1, 2):
        assert any(line.startswith(f"epoch {epoch}/2: loss ") for line in lines), lines
    assert "━" not in worker.stdout and "\r" not in worker.stdout and "worker 1: done" in worker.stdout


def test_cluster_recalibration_matches_one_process_on_the_same_images(cluster_run):
    """Each worker summed its share of the calibration batches; one process over all of them agrees."""
    import keras

    from tests.train.test_batchnorm import assert_population_statistics
    from vaedge.train.config import TrainConfig
    from vaedge.train.data import load_dataset
    from vaedge.train.run_dir import checkpoint_model

    root, results = cluster_run
    assert [r.returncode for r in results] == [0, 0]
    config = TrainConfig.load(root / "run0")
    images = load_dataset(config.data, None, config.channels, config.limit, config.seed).x_train
    for epoch in (1, 2):
        assert_population_statistics(keras.saving.load_model(checkpoint_model(root / "run0", epoch)), images, config)


def test_cluster_resumes_from_the_chiefs_last_checkpoint(cluster_run, fashion_mnist_dir):
    root, results = cluster_run
    assert [r.returncode for r in results] == [0, 0]
    run = root / "resumed"
    shutil.copytree(root / "run0", run)
    # as if killed after epoch 1: no epoch 2, no final files
    shutil.rmtree(run / "checkpoints" / "epoch-0002")
    for name in FINAL_FILES[:-1]:
        (run / name).unlink()
    epoch1 = json.loads((run / "checkpoints" / "epoch-0001" / "history.json").read_text())
    # worker 1 has no copy of the run: it resumes with the chief's config and weights
    resumed = run_cluster(
        root / "tmp",
        [["--resume", "--out", str(run)], ["--resume", "--strategy", "multiworker", "--out", str(root / "absent")]],
    )
    assert [r.returncode for r in resumed] == [0, 0], [r.stderr[-2000:] for r in resumed]
    assert not (root / "absent").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs"] == 2
    assert metrics["history"]["loss"][0] == epoch1["loss"][0]
    assert metrics["history"]["loss"][1] < metrics["history"]["loss"][0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "needs TF_CONFIG"),
        ("{not json", "not valid JSON"),
        ('["worker"]', "must be a JSON object"),
        (
            '{"cluster":{"worker":["127.0.0.1:1","127.0.0.1:2"]},"task":{"type":"worker","index":2}}',
            'task index 2 is outside the cluster: "worker" has 2 task(s), indices 0..1',
        ),
        (
            '{"cluster":{"worker":["127.0.0.1"]},"task":{"type":"ps","index":"0"}}',
            'cluster "worker"[0] = "127.0.0.1" is not "host:port"; task type "ps" is not a job of the cluster',
        ),
    ],
)
def test_parse_tf_config_names_every_problem(raw, expected):
    with pytest.raises(TrainingError) as info:
        parse_tf_config(raw)
    assert expected in str(info.value)


def test_parse_tf_config_accepts_a_worker():
    cluster = parse_tf_config('{"cluster":{"worker":["a:1","b:2"]},"task":{"type":"worker","index":1}}')
    assert not cluster.is_chief and cluster.peers() == [("worker 0", "a:1")] and rank(cluster) == 1


def _one_worker(tmp_path, fashion_mnist_dir, config: str | None, timeout: float = 180, peer_timeout: str = "120"):
    out = tmp_path / "run"
    result = subprocess.run(
        command(
            "train",
            "--data",
            str(fashion_mnist_dir),
            "--epochs",
            "1",
            "--limit",
            "256",
            "--quiet",
            "--strategy",
            "multiworker",
            "--peer-timeout",
            peer_timeout,
            "--out",
            str(out),
        ),
        env=worker_env(tmp_path, config),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing half-written, no scratch left
    return lines[0]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, "needs TF_CONFIG"),
        ('{"cluster": {"worker": ["127.0.0.1:1"]', "TF_CONFIG is not valid JSON"),
        (
            '{"cluster":{"worker":["127.0.0.1:1","127.0.0.1:2"]},"task":{"type":"worker","index":5}}',
            'task index 5 is outside the cluster: "worker" has 2 task(s), indices 0..1',
        ),
    ],
)
def test_bad_cluster_is_one_line(tmp_path, fashion_mnist_dir, config, expected):
    assert expected in _one_worker(tmp_path, fashion_mnist_dir, config)


def test_peer_that_never_comes_up_is_a_bounded_wait(tmp_path, fashion_mnist_dir):
    ports = free_ports(2)
    line = _one_worker(tmp_path, fashion_mnist_dir, tf_config(ports, 0), timeout=60, peer_timeout="5")
    assert f"did not come together within 5 s: no answer from worker 1 (127.0.0.1:{ports[1]})" in line
