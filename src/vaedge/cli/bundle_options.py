"""What every runtime command shares: the bundle argument, the engine options, and opening the bundle.

`RUNTIME_OPTIONS` is the one definition of the engine options. `@with_options(...)` adds the named
ones to a command's signature; `@with_generator` adds them all and hands the command a `generator`
opened with them. Defaults are `vaedge.runtime.load`'s own (typer shows them); help strings don't
repeat them.
"""

from __future__ import annotations

import functools
import inspect
import typing
from pathlib import Path
from typing import Optional

import typer

BUNDLE = typer.Argument(..., help="Bundle directory written by `vaedge export`.", metavar="BUNDLE")
RUNTIME_OPTIONS = {
    "backend": (
        str,
        typer.Option(
            "auto",
            help="auto (per batch size, the installed engine measured fastest here; "
            "`vaedge info` shows the pick), onnx (onnxruntime), tflite (LiteRT), openvino "
            "(OpenVINO on the ONNX files) or tflm (TensorFlow Lite Micro on the batch-1 graphs).",
        ),
    ),
    "provider": (
        Optional[list[str]],
        typer.Option(
            None, help="onnxruntime execution provider; repeat for a fallback list (default: best available)."
        ),
    ),
    "precision": (str, typer.Option("fp32", help="fp32, fp16 or int8 (as exported).")),
    "threads": (Optional[int], typer.Option(None, help="Intra-op threads (default: the engine decides).")),
    "device": (
        Optional[str],
        typer.Option(None, help="OpenVINO device for --backend openvino: CPU, GPU, NPU or AUTO (default CPU)."),
    ),
    "public_key": (
        Optional[Path],
        typer.Option(
            None, "--public-key", help="PEM public key: refuse the bundle unless its signature verifies with it."
        ),
    ),
}


def with_options(*names: str, replace: str | None = None, make=None):
    """Add the RUNTIME_OPTIONS `names` to the command's signature. With `replace`, that parameter of the
    command is dropped from the CLI and filled by `make(**options, **kwargs)`; else the options are passed on."""

    def decorate(command):
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if p.name != replace and p.name not in names]
        added = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=RUNTIME_OPTIONS[name][1],
                annotation=RUNTIME_OPTIONS[name][0],
            )
            for name in names
        ]

        @functools.wraps(command)
        def wrapper(**kwargs):
            if replace is None:
                return command(**kwargs)
            options = {name: kwargs.pop(name) for name in names}
            return command(**{replace: make(kwargs, **options)}, **kwargs)

        del wrapper.__wrapped__  # typer must see the new signature, not the command's
        wrapper.__signature__ = signature.replace(parameters=kept + added)
        hints = typing.get_type_hints(command)
        wrapper.__annotations__ = {k: v for k, v in hints.items() if k != replace}
        wrapper.__annotations__.update({name: RUNTIME_OPTIONS[name][0] for name in names})
        return wrapper

    return decorate


def open_bundle(
    arguments: dict,
    backend: str,
    provider: Optional[list[str]],
    precision: str,
    threads: Optional[int],
    device: Optional[str],
    public_key: Optional[Path],
):
    from vaedge.runtime import load

    return load(
        arguments["bundle"],
        backend=backend,
        providers=provider or None,
        precision=precision,
        threads=threads,
        public_key=public_key,
        device=device,
    )


def with_generator(command):
    """Replace the command's `generator` parameter by every engine option, and open the bundle with them."""
    return with_options(*RUNTIME_OPTIONS, replace="generator", make=open_bundle)(command)
