"""Held-out images with labels and class names from the real Fashion-MNIST test split and from .npz files."""

from __future__ import annotations

import numpy as np
import pytest

from vaedge.errors import InputError
from vaedge.explain.held_out import FASHION_MNIST, MNIST, UNLABELLED, read_held_out
from vaedge.io.idx import read_idx_directory


def test_fashion_mnist_test_split_with_names(fashion_mnist_dir):
    held_out = read_held_out(fashion_mnist_dir, (28, 28, 1), 12)
    split = read_idx_directory(fashion_mnist_dir, splits=("test",))
    assert held_out.images.shape == (12, 28, 28, 1) and held_out.images.dtype == np.uint8
    np.testing.assert_array_equal(held_out.labels, split["y_test"][:12])
    assert held_out.class_names == FASHION_MNIST and held_out.names()[0] == "Ankle boot"


def test_npz_with_and_without_labels(tmp_path):
    images = np.random.default_rng(0).random((5, 28, 28)).astype(np.float32)
    np.savez(tmp_path / "mnist.npz", x_test=images, y_test=np.arange(5))
    np.savez(tmp_path / "mine.npz", x_test=images)
    labelled = read_held_out(tmp_path / "mnist.npz", (28, 28, 1), 3)
    assert labelled.class_names == MNIST and labelled.names() == ["0", "1", "2"]
    unlabelled = read_held_out(tmp_path / "mine.npz", (28, 28, 1), 3)
    assert unlabelled.labels is None and unlabelled.names() == [UNLABELLED] * 3


def test_wrong_shape_and_labels_are_refused(tmp_path, fashion_mnist_dir):
    with pytest.raises(InputError, match=r"the bundle takes \(32, 32, 3\)"):
        read_held_out(fashion_mnist_dir, (32, 32, 3), 2)
    np.savez(tmp_path / "odd.npz", x_test=np.zeros((4, 28, 28), np.uint8), y_test=np.array([0.5, 1, 2, 3]))
    with pytest.raises(InputError, match="integer labels"):
        read_held_out(tmp_path / "odd.npz", (28, 28, 1), 4)
