"""Datasets for training: a Keras dataset name, IDX files, an .npz or a folder of images.

Every loader returns float32 images in [0, 1] with shape (N, H, W, C) or raises `DataError`
naming the file at fault; nothing is ever loaded partially.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaedge.errors import DataError
from vaedge.io.arrays import read_npz
from vaedge.io.datasets import KERAS_DATASETS, resolve
from vaedge.io.files import describe
from vaedge.io.idx import read_idx_directory
from vaedge.io.images import IMAGE_SUFFIXES, decode_image
from vaedge.train.config import check_image_shape

TEST_FRACTION = 0.1


@dataclass
class Dataset:
    """Training and held-out images, float32 (N, H, W, C) in [0, 1]; labels when the source has them."""

    source: str
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.x_train.shape[1:])


def load_dataset(
    data: str,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Load `data` (a name from KERAS_DATASETS or a path), fitted to `image_size` (H, W) and `channels`."""
    if limit is not None and limit < 1:
        raise DataError(f"--limit must be at least 1, got {limit}")
    if channels not in (None, 1, 3):
        raise DataError(f"--channels must be 1 or 3, got {channels}")
    resolved = resolve(data)
    if resolved.name is not None:
        source, arrays = _load_named(resolved, limit)
    else:
        source, arrays = _load_path(Path(data), image_size, channels, seed, limit)
    y_train, y_test = arrays.get("y_train"), arrays.get("y_test")
    if limit is not None:  # before converting and resizing: --image-size 112 112 --limit 64 resizes 64 images
        arrays["x_train"] = arrays["x_train"][:limit]
        y_train = None if y_train is None else y_train[:limit]
    x_train = _fit(_to_unit_float(arrays["x_train"], source), image_size, channels, source)
    x_test = _fit(_to_unit_float(arrays["x_test"], source), image_size, channels, source)
    return Dataset(source, x_train, x_test, y_train, y_test)


def _load_named(resolved, limit: int | None) -> tuple[str, dict[str, np.ndarray]]:
    """A named dataset from its local copy, else Keras' download."""
    name, tried = resolved.name, [str(p) for p in resolved.tried]
    if resolved.path is not None:
        return str(resolved.path), read_idx_directory(resolved.path, limit)
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as exc:  # network, proxy, cache: any failure means "no data"
        raise DataError(
            f"{name}: no local copy ({', '.join(tried)}) and the Keras download failed "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "pass --data DIR with IDX files or an .npz, or set VAEDGE_DATA_DIR"
        ) from None
    return f"keras.datasets.{name}", {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _load_path(path: Path, image_size, channels, seed, limit) -> tuple[str, dict[str, np.ndarray]]:
    name = describe(path)
    if not path.exists():
        raise DataError(f"{name}: no such file or directory (and not one of {', '.join(KERAS_DATASETS)})")
    if path.suffix == ".npz":
        return name, _load_npz(path, limit)
    if path.is_dir():
        if any(path.glob("*-idx3-ubyte*")):
            return name, read_idx_directory(path, limit)
        return name, _load_image_folder(path, image_size, channels, seed, limit)
    raise DataError(f"{name}: expected a directory of IDX files or images, or an .npz file")


def _load_npz(path: Path, limit: int | None) -> dict[str, np.ndarray]:
    arrays = read_npz(path, ["x_test", "y_test"])
    arrays.update(read_npz(path, ["x_train", "y_train"], limit=limit))  # bounds what is read, not only kept
    missing = [key for key in ("x_train", "x_test") if key not in arrays]
    if missing:
        raise DataError(f"{describe(path)}: missing array(s) {', '.join(missing)} (has {', '.join(arrays) or 'none'})")
    return arrays


def _load_image_folder(path: Path, image_size, channels, seed, limit) -> dict[str, np.ndarray]:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{describe(path)}: no {'/'.join(IMAGE_SUFFIXES)} images found (searched recursively)")
    if len(files) < 2:
        raise DataError(f"{describe(path)}: one image cannot be split into training and held-out sets")
    order = np.random.default_rng(seed).permutation(len(files))
    n_test = max(1, int(round(len(files) * TEST_FRACTION)))
    test_order, train_order = order[:n_test], order[n_test:][:limit]  # only decode what will be kept
    if image_size is None:
        image_size = decode_image(files[train_order[0]], channels or 1).shape[:2]
    decoded = {i: decode_image(files[i], channels or 1, image_size) for i in (*train_order, *test_order)}
    return {
        "x_train": np.stack([decoded[i] for i in train_order]),
        "x_test": np.stack([decoded[i] for i in test_order]),
    }


def _to_unit_float(x: np.ndarray, source: str) -> np.ndarray:
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[0] == 0:
        raise DataError(f"{source}: expected images shaped (N, H, W[, C]) with N > 0, got {x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if np.issubdtype(x.dtype, np.integer):
        if x.min() < 0 or x.max() > 255:
            raise DataError(f"{source}: integer pixels must be in 0..255, got {x.min()}..{x.max()}")
        return x.astype(np.float32) / 255.0
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise DataError(f"{source}: float pixels must be finite and in [0, 1]")
        return x.astype(np.float32)
    raise DataError(f"{source}: unsupported pixel dtype {x.dtype}")


def _fit(x: np.ndarray, image_size, channels, source: str) -> np.ndarray:
    """Resize (bilinear) and convert channels so every image is (H, W, C) as asked."""
    if channels is not None and x.shape[-1] != channels:
        if x.shape[-1] not in (1, 3):
            raise DataError(f"{source}: images have {x.shape[-1]} channels; only 1 or 3 convert")
        if channels == 3:
            x = np.repeat(x, 3, axis=-1)
        else:  # ITU-R 601 luma, as PIL's "L" conversion
            x = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    if image_size is not None and tuple(x.shape[1:3]) != tuple(image_size):
        from PIL import Image

        height, width = image_size
        resized = np.empty((len(x), height, width, x.shape[-1]), np.float32)  # filled in place: one copy at a time
        for i, img in enumerate(x):
            for c in range(img.shape[-1]):
                resized[i, ..., c] = Image.fromarray(img[..., c]).resize((width, height), Image.Resampling.BILINEAR)
        x = np.clip(resized, 0.0, 1.0, out=resized)
    try:
        check_image_shape(tuple(x.shape[1:]))
    except ValueError as exc:
        raise DataError(f"{source}: {exc}; pass --image-size H W") from None
    return np.ascontiguousarray(x, dtype=np.float32)
