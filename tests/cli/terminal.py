"""Run a `vaedge` command the way a person does, in a pseudo-terminal, or the way a script does, in pipes."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
ROOT = Path(__file__).resolve().parents[2]


def environment(columns: int = 80, **extra) -> dict:
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "40", "TERM": "xterm-256color", **extra}
    env.pop("NO_COLOR", None)
    return env


class Terminal:
    """A command whose stdin, stdout and stderr are one pseudo-terminal, as in an interactive shell."""

    def __init__(self, command: list[str], cwd: Path | None = None, columns: int = 80, **env):
        import fcntl
        import struct
        import termios

        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        self.process = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=environment(columns, **env),
            start_new_session=True,
        )
        os.close(slave)
        self.raw = b""
        self.closed = False

    def read(self, seconds: float = 0.2) -> str:
        ready, _, _ = select.select([] if self.closed else [self.master], [], [], seconds)
        if ready:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every process holding the terminal has exited
                chunk = b""
            self.raw += chunk
            self.closed = not chunk
        return self.text

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")

    def wait_for(self, pattern: str, timeout: float) -> bool:
        """Read until `pattern` shows up in the text without escape sequences; False on timeout or exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, ANSI.sub("", self.read())):
                return True
            if self.process.poll() is not None:
                self.read(0.5)
                return bool(re.search(pattern, ANSI.sub("", self.text)))
        return False

    def interrupt(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group

    def finish(self, timeout: float) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self.read()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.process.args} did not finish in {timeout} s:\n{self.text[-3000:]}")
        while not self.closed:
            self.read(0.1)
        os.close(self.master)
        return self.process.returncode, self.text


def in_terminal(command: list[str], timeout: float = 600, cwd: Path | None = None, **env) -> tuple[int, str]:
    """(exit code, everything the terminal showed, escape sequences included)."""
    return Terminal(command, cwd=cwd, **env).finish(timeout)


def in_pipes(command: list[str], timeout: float = 600, cwd: Path | None = None, **env):
    """The command with stdout and stderr as pipes: a CompletedProcess with text."""
    return subprocess.run(
        command,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=environment(80, **env),
        stdin=subprocess.DEVNULL,
    )


def screen_lines(text: str) -> list[str]:
    """The lines a terminal ends up showing, roughly: escapes removed, each carriage return restarting a line."""
    lines = []
    for line in ANSI.sub("", text).replace("\r\n", "\n").split("\n"):
        lines.append(line.split("\r")[-1])
    return lines


def stderr_on_a_terminal(command: list[str], timeout: float = 600, cwd: Path | None = None):
    """The command with stdout a pipe and stderr a pseudo-terminal of 80 columns: (exit code, stdout, what
    the terminal showed)."""
    master, slave = os.openpty()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=slave,
        stdin=subprocess.DEVNULL,
        env=environment(80),
        text=True,
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    out, _ = process.communicate(timeout=timeout)
    os.close(master)
    return process.returncode, out, shown.decode("utf-8", "replace")
