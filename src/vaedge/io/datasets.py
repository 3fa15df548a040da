"""Which dataset, and where: the one resolver (`resolve`: a name or a path -> the local file or folder),
the one default-data rule (`default_data`), and the held-out (test) split of a dataset without Keras.

Training reads both splits (vaedge.train.data); evaluation needs only the test split, so a folder
holding nothing but `t10k-*` IDX files, or an .npz holding nothing but `x_test`, is enough here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaedge.errors import DataError, InputError
from vaedge.io.files import describe

KERAS_DATASETS = ("mnist", "fashion_mnist")
DEFAULT_DATASET = "fashion_mnist"  # what `vaedge train` uses without --data
DEBIAN_DATASETS = Path("/usr/share/datasets")


def local_candidates(name: str) -> list[Path]:
    """Where a local copy of a named dataset may be, in the order they are tried."""
    spellings = [name, name.replace("_", "-")]
    candidates = []
    if os.environ.get("VAEDGE_DATA_DIR"):
        candidates += [Path(os.environ["VAEDGE_DATA_DIR"]) / s for s in spellings]
    candidates.append(DEBIAN_DATASETS / name.replace("_", "-"))
    return list(dict.fromkeys(candidates))


@dataclass(frozen=True)
class Resolved:
    """Where `--data` points. `name`: the dataset name it gave (None for a path); `path`: the file or
    folder to read (for a name, its first local copy, None when there is none); `tried`: where a
    name's local copy was looked for."""

    given: str
    name: str | None
    path: Path | None
    tried: tuple[Path, ...] = ()

    def local(self, error=InputError) -> Path:
        """The file or folder to read; `error` when a name has no local copy on this machine."""
        if self.path is None:
            raise error(
                f"{self.given}: no local copy ({', '.join(map(str, self.tried))}); set VAEDGE_DATA_DIR "
                "or pass a folder with t10k-images-idx3-ubyte[.gz] or an .npz with x_test"
            )
        return self.path


def resolve(data: str | Path) -> Resolved:
    """A dataset name (mnist, fashion_mnist; a path of that name wins) -> its first local copy, else
    the path as given."""
    name = str(data).replace("-", "_")
    if name not in KERAS_DATASETS or Path(data).exists():
        return Resolved(str(data), None, Path(data))
    tried = tuple(local_candidates(name))
    return Resolved(str(data), name, next((p for p in tried if p.is_dir()), None), tried)


def default_data(given: str | None, *configs: dict | None) -> str | None:
    """The one default-data rule: `--data` when given, else the first dataset the configs name (a
    bundle's export config, then its training config; a run's training config), else None."""
    if given is not None and str(given).strip():
        return given
    for config in configs:
        value = config.get("data") if isinstance(config, dict) else None
        if isinstance(value, str) and value.strip():
            return value
    return None


def read_test_split(data: str | Path, limit: int | None = None) -> tuple[str, np.ndarray]:
    """(source, the first `limit` test images) of a dataset name with a local copy, an IDX folder
    (its t10k images), a t10k images IDX file, or an .npz (its `x_test`).

    Images come back as stored: uint8 (N, H, W[, C]) from IDX, uint8 or floats in [0, 1] from an
    .npz. Raises InputError naming the file when there is no test split.
    """
    from vaedge.io.arrays import read_npz
    from vaedge.io.idx import IMAGES_MAGIC, find_idx_file, read_idx

    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1, got {limit}")
    path = resolve(data).local()
    where = describe(path)
    if not path.exists():
        raise InputError(f"{where}: no such file or directory")
    if path.suffix == ".npz":
        arrays = read_npz(path, ["x_test"], limit=limit, error=InputError)
        if "x_test" not in arrays:
            raise InputError(f"{where}: no x_test array (the held-out split is what is evaluated)")
        images = arrays["x_test"]
    else:
        idx = find_idx_file(path, "test", "images") if path.is_dir() else path
        if idx is None:
            below = (
                [c for c in sorted(path.iterdir()) if c.is_dir() and find_idx_file(c, "test", "images")]
                if path.is_dir()
                else []
            )
            hint = f"; {describe(below[0].name)}/ below has them: pass {describe(below[0])}" if below else ""
            raise InputError(
                f"{where}: no t10k-images-idx3-ubyte[.gz] here (the held-out split is what is evaluated){hint}"
            )
        try:
            images = read_idx(idx, IMAGES_MAGIC, limit=limit)
        except DataError as exc:
            raise InputError(str(exc)) from None
    if images.ndim not in (3, 4) or len(images) == 0:
        raise InputError(f"{where}: test images must be shaped (N, H, W[, C]) with N >= 1, got {images.shape}")
    return where, images


def check_data_path(data: str | None) -> None:
    """What a command can say about `--data` before any heavy import: a path that does not exist, or a
    folder without IDX files or images whose data sits one folder down (e.g. the parent of
    `fashion-mnist/`), is refused naming the folder to pass. Names of datasets are left to the loader."""
    if data is None:
        return
    if resolve(data).name is not None:
        return
    path = Path(data)
    if not path.exists():
        raise DataError(f"{describe(path)}: no such file or directory (and not one of {', '.join(KERAS_DATASETS)})")
    if not path.is_dir() or any(path.glob("*-idx3-ubyte*")):
        return
    from vaedge.io.images import IMAGE_SUFFIXES

    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*")):
        return
    below = sorted(child for child in path.iterdir() if child.is_dir() and any(child.glob("*-idx3-ubyte*")))
    if below:
        raise DataError(
            f"{describe(path)}: no IDX files or images here, but {describe(below[0].name)}/ below holds "
            f"IDX files: pass --data {describe(below[0])}"
        )
