"""Turn library errors into one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import contextlib
import functools
import signal

import typer

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


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `error: message` as one line (control characters escaped, so a file name holding a
    newline or a terminal escape cannot split it or reach the terminal raw) and return the exit."""
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


def reported(command):
    """Decorator for typer commands: typed errors, missing extras and OS errors become one line."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                signal.signal(signal.SIGINT, signal.default_int_handler)  # from here, KeyboardInterrupt below
            return command(*args, **kwargs)
        except VaedgeError as exc:
            raise fail(str(exc)) from None
        except ModuleNotFoundError as exc:
            root = (exc.name or "").split(".")[0]
            if root in EXTRAS:
                raise fail(
                    f"`vaedge {command.__name__}` needs {root}, which is not installed: {EXTRAS[root]}"
                ) from None
            raise
        except OSError as exc:  # disk full, permission denied, missing path
            where = f"{describe(exc.filename)}: " if exc.filename else ""
            raise fail(f"{where}{exc.strerror or exc}") from None
        except KeyboardInterrupt:
            raise fail("interrupted", code=130) from None
        except Exception as exc:  # Ctrl-C inside a C extension's import surfaces as its own error
            if _interrupted(exc):
                raise fail("interrupted", code=130) from None
            raise

    return wrapper
