"""Readers for the IDX format of (Fashion-)MNIST, plain or gzip, that refuse partial files."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from vaedge.errors import DataError

IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dims
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dim
SPLITS = {"train": "train", "test": "t10k"}


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read one IDX file into a uint8 array of the shape its header declares."""
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: too short for an IDX header ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise DataError(f"{path}: wrong IDX magic 0x{magic:08x}, expected 0x{expected_magic:08x}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    actual = len(data) - header
    if actual != expected:
        raise DataError(f"{path}: header declares {shape} = {expected} bytes of data, file holds {actual}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def find_idx_file(directory: Path, split: str, kind: str) -> Path | None:
    """`train-images-idx3-ubyte[.gz]` and friends; kind is 'images' or 'labels'."""
    stem = f"{SPLITS[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def read_idx_directory(directory: Path) -> dict[str, np.ndarray]:
    """A folder of IDX files -> {'x_train', 'x_test'[, 'y_train', 'y_test']} as uint8 arrays."""
    arrays: dict[str, np.ndarray] = {}
    missing = []
    for split in SPLITS:
        images = find_idx_file(directory, split, "images")
        if images is None:
            missing.append(f"{SPLITS[split]}-images-idx3-ubyte[.gz]")
            continue
        arrays[f"x_{split}"] = read_idx(images, IMAGES_MAGIC)
        labels = find_idx_file(directory, split, "labels")
        if labels is not None:
            arrays[f"y_{split}"] = read_idx(labels, LABELS_MAGIC)
            if len(arrays[f"y_{split}"]) != len(arrays[f"x_{split}"]):
                raise DataError(
                    f"{labels}: {len(arrays[f'y_{split}'])} labels for {len(arrays[f'x_{split}'])} images"
                )
    if missing:
        raise DataError(f"{directory}: missing {' and '.join(missing)}")
    return arrays
