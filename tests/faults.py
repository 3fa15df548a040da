"""Running a `vaedge` command under injected faults: SIGKILL, a full disk, no write permission."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.vaedge_command import command


def kill_after(seconds: float, *args) -> bool:
    """Start `vaedge args`, SIGKILL it after `seconds`; True if it was still running when killed."""
    proc = subprocess.Popen(command(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


DISK_FULL = ("error: No space left on device", "error: File too large")
NO_WRITE = ("Operation not permitted", "Permission denied")


@contextlib.contextmanager
def full_disk(size_kb: int):
    """(directory, Popen kwargs) where writes beyond `size_kb` fail: a real tiny tmpfs (ENOSPC) when
    this machine allows mounts, else a file-size limit on the command (EFBIG)."""
    root = Path(tempfile.mkdtemp(prefix="vaedge-full-"))
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(root)], capture_output=True
        ).returncode
        == 0
    )
    try:
        if mounted:
            yield root, {}
        else:

            def limit():
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (size_kb * 1024, size_kb * 1024))

            yield root, {"preexec_fn": limit}
    finally:
        if mounted:
            subprocess.run(["umount", str(root)], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def unwritable_dir():
    """A directory nobody may create files in: immutable for root (chattr +i), else mode 0555."""
    root = Path(tempfile.mkdtemp(prefix="vaedge-ro-"))
    immutable = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(root)], capture_output=True).returncode == 0
    if not immutable:
        os.chmod(root, 0o555)
    try:
        yield root
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(root)], capture_output=True)
        os.chmod(root, 0o755)
        shutil.rmtree(root, ignore_errors=True)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def wait_for(predicate, timeout: float = 120.0, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False
