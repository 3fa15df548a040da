"""Held-out (test split) images with their labels and class names, for the class clusters and the
page's thumbnails.

Labels come from the split's own file (`t10k-labels-idx1-ubyte[.gz]` beside the images, `y_test` in an
.npz); without one the images are unlabelled. Class names follow the dataset's name: Fashion-MNIST's
ten, MNIST's digits, else the label numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaedge.errors import DataError, InputError
from vaedge.io.datasets import read_test_split, resolve
from vaedge.io.files import describe

FASHION_MNIST = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MNIST = tuple(str(d) for d in range(10))
UNLABELLED = "unlabelled"


@dataclass(frozen=True)
class HeldOut:
    """images uint8 (N, H, W, C); labels int (N,) or None; class_names[label] names a label."""

    images: np.ndarray
    labels: np.ndarray | None
    class_names: tuple[str, ...]
    source: str

    def names(self) -> list[str]:
        """One class name per image (`unlabelled` without labels)."""
        if self.labels is None:
            return [UNLABELLED] * len(self.images)
        return [self.class_names[int(k)] for k in self.labels]


def read_held_out(data, image_shape: tuple[int, int, int], limit: int) -> HeldOut:
    """The first `limit` test images of `data` (a dataset name, an IDX folder or file, an .npz with
    x_test[, y_test]) shaped like `image_shape` (H, W, C), with their labels when the split has them."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit must be a positive integer, got {limit!r}")
    path = resolve(data).local()  # resolved once: the images and their labels come from the same place
    where, images = read_test_split(path, limit)
    images = _as_uint8(images, where)
    if images.ndim == 3:
        images = images[..., None]
    if tuple(images.shape[1:]) != tuple(image_shape):
        raise InputError(f"{where}: images are {tuple(images.shape[1:])}, the bundle takes {tuple(image_shape)}")
    labels = _labels(path, len(images), where)
    return HeldOut(images, labels, class_names(path, labels), where)


def class_names(path: Path, labels: np.ndarray | None) -> tuple[str, ...]:
    """Fashion-MNIST's or MNIST's names by the dataset's folder or file name, else the label numbers."""
    name = (path.name if path.is_dir() else f"{path.parent.name}/{path.name}").lower()
    if labels is None:
        return ()
    if "fashion" in name:
        return FASHION_MNIST
    if "mnist" in name:
        return MNIST
    return tuple(str(k) for k in range(int(labels.max()) + 1))


def _as_uint8(images: np.ndarray, where: str) -> np.ndarray:
    if images.dtype == np.uint8:
        return images
    if images.dtype.kind != "f" or not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise InputError(f"{where}: test images must be uint8 or floats in [0, 1], got {images.dtype}")
    return np.rint(images * 255).astype(np.uint8)


def _labels(path: Path, count: int, where: str) -> np.ndarray | None:
    from vaedge.io.arrays import read_npz
    from vaedge.io.idx import LABELS_MAGIC, find_idx_file, read_idx

    if path.suffix == ".npz":
        labels = read_npz(path, ["y_test"], limit=count, error=InputError).get("y_test")
    else:
        file = find_idx_file(path if path.is_dir() else path.parent, "test", "labels")
        if file is None:
            return None
        try:
            labels = read_idx(file, LABELS_MAGIC, limit=count)
        except DataError as exc:
            raise InputError(str(exc)) from None
        where = describe(file)
    if labels is None:
        return None
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != count or labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() > 255:
        raise InputError(f"{where}: expected {count} integer labels in 0..255, got {labels.dtype} {labels.shape}")
    return labels.astype(np.int64)
