"""Reading files that strangers made: regular files only, every read bounded before it happens.

A FIFO, a device such as /dev/zero or a socket would hang a reader or feed it without end, so a
path is opened non-blocking, checked with fstat on the open descriptor (not on a path that could
be swapped afterwards) and read up to a byte budget. Callers hash and parse the bytes returned,
never the path again.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from vaedge.errors import DataError, VaedgeError

MiB = 1 << 20


def describe(path) -> str:
    """A file name as data: control characters and escapes shown as `\\x1b`, never sent raw."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def read_head(path, n: int, error: type[VaedgeError] = DataError) -> bytes:
    """The first `n` bytes (fewer if shorter) of the regular file `path`, whatever its size, to tell
    what it holds; anything but a regular file raises `error` as read_regular does."""
    return read_regular(path, n, error, head=True)


def read_regular(
    path, max_bytes: int, error: type[VaedgeError] = DataError, follow_symlinks: bool = True, head: bool = False
) -> bytes:
    """All bytes of the regular file `path`, at most `max_bytes`; anything else raises `error`."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    name = describe(path)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except OSError as exc:
        if not follow_symlinks and os.path.islink(path):
            raise error(f"{name}: is a symlink; only regular files are read") from None
        raise error(f"{name}: cannot open ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{name}: not a regular file (a {_kind(info.st_mode)}); only regular files are read")
        if head:
            return os.read(fd, max_bytes)
        if info.st_size > max_bytes:
            raise error(f"{name}: {info.st_size:,} bytes, more than the {max_bytes:,} allowed for it")
        chunks, total = [], 0
        while chunk := os.read(fd, min(MiB, max_bytes + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # grew while we read it
                raise error(f"{name}: more than the {max_bytes:,} bytes allowed for it")
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"{name}: cannot read ({exc.strerror})") from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return kind
    return "special file"


def read_marker(folder, name: str, max_bytes: int = MiB) -> dict | None:
    """The JSON object in `folder/name` (a regular file, not a symlink, within `max_bytes`), or None for
    anything else: how `--force` recognises a run, bundle or site that vaedge made."""
    try:
        raw = parse_json(
            read_regular(Path(folder) / name, max_bytes, VaedgeError, follow_symlinks=False), name, VaedgeError
        )
    except VaedgeError:
        return None
    return raw if isinstance(raw, dict) else None


MAX_INT_DIGITS = 40


def _refuse_constant(word: str):
    raise ValueError(f"{word} is not JSON (a number must be finite)")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-')):,} digits (at most {MAX_INT_DIGITS} are read)")
    return int(text)


def parse_json(data: bytes | str, name, error: type[VaedgeError] = DataError):
    """Strict JSON from a stranger: NaN/Infinity, integers over MAX_INT_DIGITS digits, bad UTF-8 and
    nesting deep enough to overflow the parser are `error` naming the file, never a traceback."""
    try:
        return json.loads(data, parse_constant=_refuse_constant, parse_int=_bounded_int)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise error(f"{describe(name)}: not valid JSON ({describe(str(exc))[:200]})") from None
