""".npz files from strangers: never unpickled, every array's size checked before it is inflated.

np.load trusts the zip's sizes and inflates whole members; a 1.5 MB file can claim gigabytes.
Here each member's npy header is parsed first (dtype must be a plain number, shape times item
size within the budget), and only the rows asked for are read.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from vaedge.errors import DataError, VaedgeError
from vaedge.io.files import MiB, describe, read_regular

MAX_NPZ_BYTES = 2048 * MiB  # the whole file, and all arrays read from it together


def read_npz(
    path: Path,
    keys=None,
    limit: int | None = None,
    max_bytes: int = MAX_NPZ_BYTES,
    error: type[VaedgeError] = DataError,
) -> dict[str, np.ndarray]:
    """{name: array} for `keys` (default all) of an .npz; with `limit`, only the first rows of each."""
    return npz_arrays(read_regular(path, max_bytes, error), describe(path), keys, limit, max_bytes, error)


def npz_arrays(
    data: bytes,
    name: str,
    keys=None,
    limit: int | None = None,
    max_bytes: int = MAX_NPZ_BYTES,
    error: type[VaedgeError] = DataError,
) -> dict[str, np.ndarray]:
    """`read_npz` on bytes already read (and hashed) by the caller."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = {m.filename[:-4]: m for m in archive.infolist() if m.filename.endswith(".npy")}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise error(f"{name}: cannot read as .npz ({exc})") from None
    wanted = list(members) if keys is None else [k for k in keys if k in members]
    arrays, budget = {}, max_bytes
    for key in wanted:
        arrays[key] = _read_member(archive, members[key], limit, budget, f"{name}: array {key!r}", error)
        budget -= arrays[key].nbytes
    return arrays


def _read_member(archive, member, limit, budget, where, error) -> np.ndarray:
    try:
        with archive.open(member) as stream:
            version = np.lib.format.read_magic(stream)
            read_header = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if read_header is None:
                raise error(f"{where}: npy format version {version} is not read")
            shape, fortran, dtype = read_header(stream, max_header_size=10_000)
            if dtype.hasobject or dtype.kind not in "biuf":
                raise error(f"{where}: dtype {dtype} is not a plain number type")
            if fortran and len(shape) > 1:
                raise error(f"{where}: Fortran-ordered arrays are not read")
            rows = shape[0] if shape else 1
            kept = rows if limit is None or not shape else min(rows, limit)
            row_bytes = int(np.prod(shape[1:], dtype=object)) * dtype.itemsize if shape else dtype.itemsize
            need = kept * row_bytes
            if need > budget:
                raise error(f"{where}: {tuple(shape)} {dtype} needs {need:,} bytes, more than the {budget:,} allowed")
            raw = stream.read(need)
    except VaedgeError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, SyntaxError) as exc:
        raise error(f"{where}: cannot read ({exc})") from None
    if len(raw) != need:
        raise error(f"{where}: header declares {tuple(shape)}, the file holds {len(raw):,} of {need:,} bytes")
    array = np.frombuffer(raw, dtype=dtype)
    return array.reshape((kept, *shape[1:]) if shape else ()).copy()
