"""Turn library errors into one clear line on stderr and a non-zero exit, never a traceback.

`one_line` says which line and exit code an exception becomes; `reported` applies it to a typer
command, and vaedge.entry's typer-free `vaedge generate` applies it the same way.
"""

from __future__ import annotations

import contextlib
import functools
import signal

from vaedge.errors import VaedgeError
from vaedge.io.files import describe

# Module that failed to import -> the pip command that brings it.
EXTRAS = {
    "tensorflow": "pip install -e '.[train]' (in the clone)",
    "keras": "pip install -e '.[train]' (in the clone)",
    "tf2onnx": "pip install -e '.[train]' (in the clone)",
    "onnx": "pip install -e '.[train]' (in the clone)",
    "onnxslim": "pip install -e '.[train]' (in the clone)",
    "ai_edge_litert": "pip install -e '.[litert]' (in the clone)",
    "openvino": "pip install -e '.[openvino]' (in the clone)",
    "model_signing": "pip install -e '.[sign]' (in the clone)",
    "OpenSSL": "pip install -e '.[sign]' (in the clone)",
}


def fail(message: str, code: int = 1):
    """Print `error: message` as one line (control characters escaped, so a file name holding a
    newline or a terminal escape cannot split it or reach the terminal raw) and return the exit."""
    import typer

    typer.echo(f"error: {describe(message)}", err=True)
    return typer.Exit(code)


def _interrupted(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def one_line(exc: BaseException, command: str) -> tuple[str, int] | None:
    """(message, exit code) for an exception `vaedge COMMAND` reports as one line; None: let it propagate.
    Typed errors, missing extras and OS errors exit 1; Ctrl-C exits 130."""
    if isinstance(exc, VaedgeError):
        return str(exc), 1
    if isinstance(exc, ModuleNotFoundError):
        root = (exc.name or "").split(".")[0]
        if root not in EXTRAS:
            return None
        return f"`vaedge {command}` needs {root}, which is not installed: {EXTRAS[root]}", 1
    if isinstance(exc, OSError):  # disk full, permission denied, missing path
        where = f"{describe(exc.filename)}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}", 1
    if isinstance(exc, KeyboardInterrupt) or _interrupted(exc):  # inside a C extension, as its own error
        return "interrupted", 130
    return None


def interrupts_raise() -> None:
    """From here on, Ctrl-C raises KeyboardInterrupt (vaedge.entry's start-up handler exits at once)."""
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        signal.signal(signal.SIGINT, signal.default_int_handler)


def reported(command):
    """Decorator for typer commands: typed errors, missing extras and OS errors become one line."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            interrupts_raise()
            return command(*args, **kwargs)
        except (Exception, KeyboardInterrupt) as exc:
            failure = one_line(exc, command.__name__)
            if failure is None:
                raise
            raise fail(*failure) from None

    return wrapper
