"""The `vaedge` command. Each command lives in its own module and imports heavy libraries lazily.

Importing this package imports no typer: a plain `vaedge generate` runs without it (vaedge.entry).

`vaedge NAME ...` imports only NAME's module (`command_app`): a cold `vaedge generate` does not load
the other fourteen. `app` (help, completion, tests) is the whole command set, built on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

COMMANDS = (
    "train",
    "export",
    "validate",
    "generate",
    "reconstruct",
    "interpolate",
    "manifold",
    "encode",
    "info",
    "bench",
    "evaluate",
    "sign",
    "web",
    "explain",
    "clusters",
    "micro",
)  # each is vaedge.cli.<name>.<name>
HELP = "Train a Keras VAE, export it to ONNX/TFLite, and generate images on device."


def root() -> None:
    """Train a Keras VAE, export it to ONNX/TFLite, and generate images on device."""


def make_app(commands=COMMANDS) -> typer.Typer:
    """A typer app with `commands` (names from COMMANDS), each imported now."""
    import typer

    made = typer.Typer(
        name="vaedge", help=HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
    )
    for name in commands:
        made.command(name)(getattr(importlib.import_module(f"vaedge.cli.{name}"), name))
    made.callback()(root)
    return made


def command_app(args: list[str]) -> typer.Typer:
    """The app for a command line: only the named command when `args` starts with one, else all of them."""
    return make_app([args[0]]) if args and args[0] in COMMANDS else make_app()


def __getattr__(name: str):
    if name == "app":
        globals()["app"] = made = make_app()
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def command(args: list[str] | None = None):
    """The click command behind `vaedge ARGS`, with one style of help (vaedge.cli.help_style)."""
    from typer.main import get_command

    from vaedge.cli.help_style import tidy

    return tidy(get_command(make_app() if args is None else command_app(args)))


def main() -> None:
    import sys

    command(sys.argv[1:])(prog_name="vaedge")
