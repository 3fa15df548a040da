"""The one way tests run the `vaedge` command in its own process (`python -m vaedge`, the same entry point
as the console script), and the one check of an in-process (CliRunner) refusal."""

from __future__ import annotations

import subprocess
import sys


def command(*args) -> list[str]:
    """The argv of `vaedge ARGS` in this interpreter, for Popen, a pseudo-terminal or in_pipes."""
    return [sys.executable, "-m", "vaedge", *map(str, args)]


def vaedge(*args, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """`vaedge ARGS` run to its end: stdout and stderr captured as text, killed after `timeout` s."""
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout, **kwargs)


def one_line(result) -> bool:
    """A CliRunner result that failed with exit 1 and exactly one line, no traceback."""
    return result.exit_code == 1 and result.output.count("\n") == 1 and "Traceback" not in result.output
