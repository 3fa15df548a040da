"""vaedge.io.datasets: the test split alone, from IDX folders, IDX files, .npz files and dataset names."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from vaedge.errors import InputError
from vaedge.io.datasets import read_test_split


def test_idx_folder_with_only_t10k_files(fashion_mnist_dir, tmp_path):
    shutil.copy(fashion_mnist_dir / "t10k-images-idx3-ubyte.gz", tmp_path)
    source, images = read_test_split(tmp_path, limit=30)
    assert images.shape == (30, 28, 28) and images.dtype == np.uint8 and source == str(tmp_path)
    _, full = read_test_split(fashion_mnist_dir)
    _, file = read_test_split(tmp_path / "t10k-images-idx3-ubyte.gz", limit=30)
    assert full.shape == (10_000, 28, 28) and np.array_equal(full[:30], images) and np.array_equal(file, images)


def test_dataset_name_resolves_to_the_local_copy(fashion_mnist_dir, monkeypatch):
    monkeypatch.setenv("VAEDGE_DATA_DIR", str(fashion_mnist_dir.parent))
    source, images = read_test_split("fashion-mnist", limit=5)
    assert images.shape == (5, 28, 28) and source == str(fashion_mnist_dir)


def test_npz_with_only_x_test_keeps_float_pixels(tmp_path):
    x_test = np.random.default_rng(0).random((12, 4, 4, 1)).astype(np.float32)
    np.savez(tmp_path / "t.npz", x_test=x_test)
    _, images = read_test_split(tmp_path / "t.npz", limit=10)
    assert np.array_equal(images, x_test[:10])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: np.savez(d / "train.npz", x_train=np.zeros((3, 4, 4), np.uint8)), "no x_test array"),
        (lambda d: np.savez(d / "train.npz", x_test=np.zeros((0, 4, 4), np.uint8)), "N >= 1"),
        (lambda d: (d / "train.npz").write_bytes(b"not a zip"), "cannot read as .npz"),
    ],
)
def test_npz_without_a_test_split_is_refused(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(InputError, match=message):
        read_test_split(tmp_path / "train.npz")


def test_folder_without_t10k_and_missing_names_are_refused(tmp_path, fashion_mnist_dir, monkeypatch):
    shutil.copy(fashion_mnist_dir / "train-images-idx3-ubyte.gz", tmp_path)
    with pytest.raises(InputError, match="no t10k-images-idx3-ubyte"):
        read_test_split(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match="wrong IDX magic"):
        read_test_split(tmp_path)
    monkeypatch.setenv("VAEDGE_DATA_DIR", str(tmp_path / "none"))
    monkeypatch.setattr("vaedge.io.datasets.DEBIAN_DATASETS", tmp_path / "debian")
    with pytest.raises(InputError, match="mnist: no local copy"):
        read_test_split("mnist")
