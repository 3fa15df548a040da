"""Readers for the IDX format of (Fashion-)MNIST, plain or gzip, that refuse partial and hostile files.

The header's dimensions are checked against a byte budget before any pixel is inflated, so a
gzip bomb or a header claiming 2^32 images costs nothing; `limit` bounds what is read, not only
what is kept.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from vaedge.errors import DataError
from vaedge.io.files import MiB, describe, read_head, read_regular

IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dims
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dim
SPLITS = {"train": "train", "test": "t10k"}
GZIP_MAGIC = b"\x1f\x8b"
MAX_IDX_BYTES = 1024 * MiB  # pixels of one IDX file: 20x Fashion-MNIST's training set


class _Stream:
    """The bytes of a plain or gzip IDX file, inflated only as far as they are asked for."""

    def __init__(self, path: Path, max_bytes: int):
        self.name = describe(path)
        self.data = read_regular(path, max_bytes)
        gzipped = self.data[:2] == GZIP_MAGIC  # the content decides, not the name
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        self.offset = 0

    def take(self, n: int) -> bytes:
        if self.inflater is None:
            out = self.data[self.offset : self.offset + n]
            self.offset += len(out)
            return out
        try:
            out = self.inflater.decompress(self.inflater.unconsumed_tail or self.data, n)
        except zlib.error as exc:
            raise DataError(f"{self.name}: not valid gzip ({exc})") from None
        self.data = b""
        if len(out) < n and not self.inflater.eof and not self.inflater.unconsumed_tail:
            raise DataError(f"{self.name}: cannot read (truncated gzip stream)")
        return out

    def at_end(self) -> bool:
        if self.inflater is None:
            return self.offset == len(self.data)
        return not self.take(1) and self.inflater.eof


def read_idx(path: Path, expected_magic: int, limit: int | None = None, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read one IDX file (the first `limit` items at most) into a uint8 array of its declared shape."""
    stream = _Stream(Path(path), max_bytes)
    name = stream.name
    head = stream.take(4)
    if len(head) < 4:
        raise DataError(f"{name}: too short for an IDX header ({len(head)} bytes)")
    magic = int.from_bytes(head, "big")
    if magic != expected_magic:
        raise DataError(f"{name}: wrong IDX magic 0x{magic:08x}, expected 0x{expected_magic:08x}")
    ndim = head[3]
    dims = stream.take(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(f"{name}: truncated IDX header")
    shape = [int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim)]
    wanted = shape[0] if limit is None else min(shape[0], limit)
    item = int(np.prod(shape[1:], dtype=object))
    need = wanted * item
    if shape[0] * item > max_bytes and (limit is None or need > max_bytes):
        raise DataError(
            f"{name}: header declares {tuple(shape)} = {shape[0] * item:,} bytes, more than the "
            f"{max_bytes:,} allowed for an IDX file"
        )
    data = stream.take(need)
    if len(data) != need:
        raise DataError(
            f"{name}: header declares {tuple(shape)} = {shape[0] * item:,} bytes of data, file holds {len(data):,}"
        )
    if wanted == shape[0] and not stream.at_end():
        raise DataError(f"{name}: more data than its header {tuple(shape)} declares")
    shape[0] = wanted
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def find_idx_file(directory: Path, split: str, kind: str) -> Path | None:
    """`train-images-idx3-ubyte[.gz]` and friends; kind is 'images' or 'labels'."""
    stem = f"{SPLITS[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def read_idx_directory(directory: Path, limit: int | None = None, splits=tuple(SPLITS)) -> dict[str, np.ndarray]:
    """A folder of IDX files -> {'x_train', 'x_test'[, 'y_train', 'y_test']} as uint8 arrays.

    `limit` bounds the training images read; `splits` names the splits that must be there.
    """
    arrays: dict[str, np.ndarray] = {}
    missing = []
    for split in SPLITS:
        images = find_idx_file(directory, split, "images")
        if images is None:
            if split in splits:
                missing.append(f"{SPLITS[split]}-images-idx3-ubyte[.gz]")
            continue
        split_limit = limit if split == "train" else None
        arrays[f"x_{split}"] = read_idx(images, IMAGES_MAGIC, split_limit)
        labels = find_idx_file(directory, split, "labels")
        if labels is not None:
            arrays[f"y_{split}"] = read_idx(labels, LABELS_MAGIC, split_limit)
            if len(arrays[f"y_{split}"]) != len(arrays[f"x_{split}"]):
                raise DataError(
                    f"{describe(labels)}: {len(arrays[f'y_{split}'])} labels for {len(arrays[f'x_{split}'])} images"
                )
    if missing:
        raise DataError(f"{describe(directory)}: missing {' and '.join(missing)}")
    return arrays


def is_idx(path: Path, expected_magic: int = IMAGES_MAGIC) -> bool:
    """True if the file's first bytes (inflated, for gzip) are the IDX magic `expected_magic`: what a
    file holds decides how it is read, never its name."""
    head = read_head(path, 64 * 1024)  # a FIFO or device raises here, as for any read
    if head[:2] == GZIP_MAGIC:
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 4)
        except zlib.error:
            return False
    return len(head) >= 4 and int.from_bytes(head[:4], "big") == expected_magic
