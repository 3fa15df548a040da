"""What every runtime command shares: the bundle argument, the engine options, and opening the bundle.

`@with_generator` adds the engine options to a command's signature (one definition for every
command) and hands the command a `generator` opened with them.
"""

from __future__ import annotations

import functools
import inspect
import typing
from pathlib import Path
from typing import Optional

import typer

BUNDLE = typer.Argument(..., help="Bundle directory written by `vaedge export`.")
RUNTIME_OPTIONS = {
    "backend": (str, typer.Option("onnx", help="onnx (onnxruntime), tflite (LiteRT) or openvino (OpenVINO on the ONNX files).")),
    "provider": (Optional[list[str]], typer.Option(None, help="onnxruntime execution provider; repeat for a fallback list (default: best available).")),
    "precision": (str, typer.Option("fp32", help="fp32, fp16 or int8 (as exported).")),
    "threads": (Optional[int], typer.Option(None, help="Intra-op threads (default: the engine decides).")),
    "device": (Optional[str], typer.Option(None, help="OpenVINO device for --backend openvino: CPU, GPU, NPU or AUTO (default CPU).")),
    "public_key": (Optional[Path], typer.Option(None, "--public-key", help="PEM public key: refuse the bundle unless its signature verifies with it.")),
}


def open_bundle(bundle: Path, backend: str, provider: Optional[list[str]], precision: str, threads: Optional[int],
                public_key: Optional[Path] = None, device: Optional[str] = None):
    from vaedge.runtime import load

    return load(bundle, backend=backend, providers=provider or None, precision=precision, threads=threads,
                public_key=public_key, device=device)


def with_generator(command):
    """Replace the command's `generator` parameter by the shared engine options, and open the bundle."""
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "generator"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation)
             for name, (annotation, option) in RUNTIME_OPTIONS.items()]

    @functools.wraps(command)
    def wrapper(**kwargs):
        options = {name: kwargs.pop(name) for name in RUNTIME_OPTIONS}
        return command(generator=open_bundle(kwargs["bundle"], **options), **kwargs)

    del wrapper.__wrapped__  # typer must see the new signature, not the command's
    wrapper.__signature__ = signature.replace(parameters=kept + added)
    wrapper.__annotations__ = {k: v for k, v in typing.get_type_hints(command).items() if k != "generator"}
    wrapper.__annotations__.update({name: annotation for name, (annotation, _) in RUNTIME_OPTIONS.items()})
    return wrapper
