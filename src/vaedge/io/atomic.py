"""Atomic writes: readers see either the old file/directory or the whole new one, never a part.

Nothing is replaced that vaedge may not replace: a file output only ever replaces a regular file
(never a device, FIFO, directory or symlink), and a directory output only an empty directory or
one that `owned` recognises as vaedge's own (a run, a bundle, a site), and only once the new one
is complete.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from vaedge.errors import OutputError
from vaedge.io.files import describe


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


NAME_MAX = 255  # bytes in one file name on ext4, xfs, btrfs, tmpfs, APFS and NTFS
RANDOM_CHARACTERS = 8  # what a temporary name adds between prefix and suffix (tempfile's count, and ours)
FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp's 0600 would hide files from other users


def check_file_target(path: Path) -> None:
    """Raise OutputError unless `path` is absent or an existing regular file (not a symlink)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"{describe(path)}: cannot write there ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = "a symlink" if stat.S_ISLNK(mode) else "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise OutputError(f"{describe(path)}: is {kind}; vaedge only replaces regular files")


def _hidden_prefix(name: str, suffix: str) -> str:
    """`.{name}.` for a temporary sibling of `name`, its name cut (at a character boundary) so that with
    8 random characters and `suffix` it stays within the file system's NAME_MAX bytes: a
    legal output name near the limit must not fail for its temporary name."""
    room = NAME_MAX - len(os.fsencode(suffix)) - len(".") * 2 - RANDOM_CHARACTERS
    encoded = os.fsencode(name)
    while len(encoded) > room:
        name = name[:-1]
        encoded = os.fsencode(name)
    return f".{name}."


def _temporary_file(directory: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """(fd, path) of a new file `prefix` + 8 random hex characters + `suffix` in `directory`, created
    exclusively with mode 0600, as tempfile.mkstemp does; without importing tempfile (and its shutil,
    random, bz2 and lzma), which `vaedge generate`'s cold start would pay for one file."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        path = os.path.join(directory, f"{prefix}{os.urandom(RANDOM_CHARACTERS // 2).hex()}{suffix}")
        try:
            return os.open(path, flags, 0o600), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary name in {directory}")


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary sibling, fsync it, then rename it over `path` (absent or a regular file)."""
    path = Path(path)
    check_file_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temporary_file(path.parent, _hidden_prefix(path.name, ".tmp"), ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        check_file_target(path)  # again: it may have appeared while we wrote
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj, refuse_non_finite: bool = False) -> None:
    """Atomically write `obj` as indented, valid JSON. JSON has no NaN or infinity (`json` would write
    `NaN`/`Infinity`, which strict readers and browsers refuse): such a float is written as null (a
    figure that does not exist, e.g. a standard error of one image), or with `refuse_non_finite`
    is an OutputError naming the file."""
    if not refuse_non_finite:
        obj = _finite_or_null(obj)
    try:
        text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False)
    except ValueError as exc:
        raise OutputError(f"{describe(path)}: not written, a value is not a finite number ({exc})") from None
    write_bytes(path, (text + "\n").encode())


def _finite_or_null(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    return obj


@contextlib.contextmanager
def temporary_sibling(path: Path, suffix: str = "") -> Iterator[Path]:
    """A temporary file name next to `path` that is removed unless renamed away."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temporary_file(path.parent, _hidden_prefix(path.name, suffix or ".tmp"), suffix or ".tmp")
    os.close(fd)
    os.chmod(tmp, FILE_MODE)
    try:
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def check_directory_target(
    final: Path, replace: bool, owned: Callable[[Path], bool] | None, what: str, sources: tuple = ()
) -> None:
    """Raise OutputError unless `final` is absent, an empty directory, or (with `replace`) a directory
    `owned` recognises as vaedge's own `what`; and never when it holds, or sits inside, one of
    `sources` (what is being read to make it: replacing it would delete the input)."""
    final = Path(final)
    target = final.resolve()
    for source in map(Path, sources):
        where = source.resolve()
        if where == target or target in where.parents or where in target.parents:
            raise OutputError(
                f"{describe(final)}: overlaps {describe(source)}, which it is made from; "
                f"write the {what} somewhere else"
            )
    if not final.exists() and not final.is_symlink():
        return
    name = describe(final)
    if final.is_symlink() or not final.is_dir():
        raise OutputError(f"{name}: exists and is not a directory; vaedge writes a {what} only into a new directory")
    if not any(final.iterdir()):
        return
    if not replace:
        raise OutputError(f"{name}: already exists; pass --force to replace it")
    if owned is None or not owned(final):
        raise OutputError(f"{name}: is not a {what} made by vaedge; --force only replaces vaedge's own {what}s")


@contextlib.contextmanager
def staged_directory(
    final: Path,
    replace: bool = False,
    owned: Callable[[Path], bool] | None = None,
    what: str = "directory",
    sources: tuple = (),
) -> Iterator[Path]:
    """Yield an empty temporary sibling of `final`; on success rename it to `final`.

    An existing `final` is swapped out whole (old moved aside, new renamed in, old deleted) only
    when it is empty, or when `replace` is set and `owned(final)` says vaedge made it; that is
    checked before any work and again before the swap. On any exception the temporary directory
    is removed and `final` is untouched.
    """
    final = Path(final)
    check_directory_target(final, replace, owned, what, sources)
    try:
        staging = sibling_directory(final)
    except OSError as exc:  # name what the user asked for, not our temporary name
        raise type(exc)(exc.errno, exc.strerror, str(final)) from None
    try:
        yield staging
        publish_directory(staging, final, replace, owned, what)
    finally:
        if staging.exists():
            import shutil

            shutil.rmtree(staging, ignore_errors=True)


def sibling_directory(final: Path) -> Path:
    """A new, empty, hidden directory beside `final`, for building what will replace it."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    import tempfile

    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=_hidden_prefix(final.name, ".partial"), suffix=".partial"))
    os.chmod(staging, 0o777 & ~_umask())
    return staging


def publish_directory(
    staging: Path,
    final: Path,
    replace: bool = False,
    owned: Callable[[Path], bool] | None = None,
    what: str = "directory",
) -> None:
    """Rename the complete `staging` directory to `final`, swapping out an existing `final` whole
    (only one `check_directory_target` allows)."""
    final = Path(final)
    check_directory_target(final, replace, owned, what)
    if final.exists():
        import tempfile

        old = Path(tempfile.mkdtemp(dir=final.parent, prefix=_hidden_prefix(final.name, ".old"), suffix=".old"))
        os.replace(final, old / final.name)
        os.replace(staging, final)
        import shutil

        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, final)
