"""A resumed run whose data now has another image shape, or whose config now names another latent dim,
is refused with the same one line in one process and across two real worker processes (one lifecycle,
vaedge.train.lifecycle.check_resume).

These tests train: a run to resume is what they test (1 epoch on 256 real images each).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vaedge.cli import app
from vaedge.train.data import load_dataset

CASES = {
    "image shape": ((32, 32, 1), 2),  # the data file now holds 32x32 images
    "latent dim": ((28, 28, 1), 3),  # train_config.json now names latent dim 3
}
TRAIN = ["--epochs", "1", "--limit", "256", "--quiet"]


def write_images(path: Path, source: Path, side: int) -> None:
    """An .npz of 256 training and 64 held-out real Fashion-MNIST images, padded to side x side."""
    data = load_dataset(str(source), limit=256)
    pad = ((0, 0), (0, side - 28), (0, side - 28), (0, 0))
    as_bytes = {k: (np.pad(x, pad) * 255).round().astype(np.uint8) for k, x in (("x_train", data.x_train),)}
    as_bytes["x_test"] = (np.pad(data.x_test[:64], pad) * 255).round().astype(np.uint8)
    np.savez(path, **as_bytes)


def interrupted_copy(trained: Path, root: Path, case: str, source: Path) -> Path:
    """A copy of the trained run (with its data beside it) as if killed after its last checkpoint, then
    changed as `case` says. Returns the run directory."""
    shutil.copytree(trained, root)
    run = root / "run"
    for name in ("encoder.keras", "decoder.keras", "metrics.json", "samples.png"):
        (run / name).unlink()
    config = json.loads((run / "train_config.json").read_text())
    config["data"] = str(root / "data.npz")  # the copy reads its own data file
    shape, latent_dim = CASES[case]
    config["latent_dim"] = latent_dim
    (run / "train_config.json").write_text(json.dumps(config))
    write_images(root / "data.npz", source, shape[0])
    return run


def refusal(run: Path, case: str) -> str:
    """The one line both paths must print for `case`."""
    shape, latent_dim = CASES[case]
    return (
        f"{run}: cannot resume: the run was started with images (28, 28, 1) and latent dim 2, now the data "
        f"gives images {shape} and the config names latent dim {latent_dim}"
    )


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def one_process_run(tmp_path_factory, fashion_mnist_dir) -> Path:
    """{root}/run trained in this process on {root}/data.npz."""
    root = tmp_path_factory.mktemp("single")
    write_images(root / "data.npz", fashion_mnist_dir, 28)
    result = CliRunner().invoke(app, ["train", "--data", str(root / "data.npz"), *TRAIN, "--out", str(root / "run")])
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.parametrize("case", list(CASES))
def test_one_process_refuses_a_resume_that_does_not_match(one_process_run, tmp_path, fashion_mnist_dir, case):
    run = interrupted_copy(one_process_run, tmp_path / "copy", case, fashion_mnist_dir)
    result = CliRunner().invoke(app, ["train", "--resume", "--quiet", "--out", str(run)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    (line,) = error_lines(result.output)
    assert line.endswith(refusal(run, case)), line
    assert not (run / "metrics.json").exists() and not (run / "checkpoints" / "epoch-0002").exists()


@pytest.fixture(scope="module")
def cluster_trained_run(tmp_path_factory, fashion_mnist_dir) -> Path:
    """{root}/run trained by two real worker processes on 127.0.0.1 on {root}/data.npz."""
    from tests.train.test_multiworker import run_cluster

    root = tmp_path_factory.mktemp("cluster")
    (root / "tmp").mkdir()
    write_images(root / "data.npz", fashion_mnist_dir, 28)
    common = ["--data", str(root / "data.npz"), *TRAIN[:-1], "--strategy", "multiworker", "--batch-size", "64"]
    results = run_cluster(root / "tmp", [[*common, "--out", str(root / "run")], [*common, "--out", str(root / "w1")]])
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
    shutil.rmtree(root / "tmp")
    return root


@pytest.mark.parametrize("case", list(CASES))
def test_cluster_refuses_a_resume_that_does_not_match_with_the_same_line(
    cluster_trained_run, tmp_path, fashion_mnist_dir, case
):
    from tests.train.test_multiworker import run_cluster

    run = interrupted_copy(cluster_trained_run, tmp_path / "copy", case, fashion_mnist_dir)
    (tmp_path / "tmp").mkdir()
    # worker 1 has no copy of the run: it learns of the refusal from the chief
    args = [["--resume", "--out", str(run)], ["--resume", "--strategy", "multiworker", "--out", str(tmp_path / "w1")]]
    results = run_cluster(tmp_path / "tmp", args, timeout=300)
    for i, result in enumerate(results):
        assert result.returncode == 1 and "Traceback" not in result.stderr, (i, result.stderr[-2000:])
        (line,) = error_lines(result.stderr)
        assert line.endswith(refusal(run, case)), (i, line)
    assert not (run / "metrics.json").exists() and not (tmp_path / "w1").exists()
