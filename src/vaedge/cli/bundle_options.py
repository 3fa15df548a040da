"""What every runtime command shares: the bundle argument and the engine options, defined once.

A command takes the engine options as one `options: EngineOptions = ENGINE` parameter, which
`engine_options` turns into the five flags on the command line (a command taking only some of them, such
as evaluate, declares those with these types), and opens the bundle with `open_bundle`. Defaults are
`vaedge.runtime.load`'s own (typer shows them); help strings don't repeat them.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated, Optional

import typer

from vaedge.runtime.options import AUTO

BUNDLE = typer.Argument(..., help="Bundle directory written by `vaedge export`.", metavar="BUNDLE")
Backend = Annotated[
    str,
    typer.Option(
        help="auto (per batch size, the installed engine measured fastest here; "
        "`vaedge info` shows the pick), onnx (onnxruntime), tflite (LiteRT), openvino "
        "(OpenVINO on the ONNX files) or tflm (TensorFlow Lite Micro on the batch-1 graphs).",
    ),
]
Provider = Annotated[
    Optional[list[str]],
    typer.Option(help="onnxruntime execution provider; repeat for a fallback list (default: best available)."),
]
Precision = Annotated[str, typer.Option(help="fp32, fp16 or int8 (as exported).")]
Threads = Annotated[Optional[int], typer.Option(help="Intra-op threads (default: the engine decides).")]
Device = Annotated[
    Optional[str],
    typer.Option(help="OpenVINO device for --backend openvino: CPU, GPU, NPU or AUTO (default CPU)."),
]
PublicKey = Annotated[
    Optional[Path],
    typer.Option("--public-key", help="PEM public key: refuse the bundle unless its signature verifies with it."),
]
MapRange = Annotated[
    Optional[float],
    typer.Option(
        "--range",
        help="The map covers z from -RANGE to RANGE (default: the bundle's, chosen at export; 3 for older bundles).",
    ),
]
ENGINE = None  # the default of a command's `options: EngineOptions` parameter, which `engine_options` expands
ENGINE_FLAGS = (  # (name, type, default) of the engine options, in the order --help lists them
    ("backend", Backend, AUTO),
    ("provider", Provider, None),
    ("precision", Precision, "fp32"),
    ("threads", Threads, None),
    ("device", Device, None),
)
__all__ = [
    "AUTO",
    "BUNDLE",
    "ENGINE",
    "Backend",
    "Device",
    "MapRange",
    "Precision",
    "Provider",
    "PublicKey",
    "Threads",
    "engine_options",
    "open_bundle",
]


def engine_options(command):
    """Decorator for a command that takes `options: EngineOptions = ENGINE`: on the command line that one
    parameter is --backend, --provider, --precision, --threads and --device (ENGINE_FLAGS, in its place),
    and the command is called with them packed into one EngineOptions."""
    from vaedge.runtime.options import EngineOptions

    signature = inspect.signature(command, eval_str=True)
    parameters = []
    for parameter in signature.parameters.values():
        if parameter.name != "options":
            parameters.append(parameter)
            continue
        parameters += [
            inspect.Parameter(name, parameter.kind, default=default, annotation=annotation)
            for name, annotation, default in ENGINE_FLAGS
        ]

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        flags = {name: kwargs.pop(name) for name, _, _ in ENGINE_FLAGS}
        flags["providers"] = flags.pop("provider")  # one --provider flag a provider, repeated for a list
        return command(*args, options=EngineOptions(**flags), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=parameters)
    return wrapper


def open_bundle(bundle: Path, options, public_key: Path | None = None):
    """`vaedge.runtime.load` of `bundle` with `options` (an EngineOptions); with `public_key`, its
    signature must verify."""
    from vaedge.runtime.generator import load_bundle

    return load_bundle(bundle, options, public_key=public_key)
