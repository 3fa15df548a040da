"""Options every runtime command shares, and opening the bundle with them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

BUNDLE = typer.Argument(..., help="Bundle directory written by `vaedge export`.")
BACKEND = typer.Option("onnx", help="onnx (onnxruntime) or tflite (LiteRT).")
PROVIDER = typer.Option(None, help="onnxruntime execution provider; repeat for a fallback list (default: best available).")
PRECISION = typer.Option("fp32", help="fp32, fp16 or int8 (as exported).")
THREADS = typer.Option(None, help="Intra-op threads (default: onnxruntime/LiteRT decide).")


def open_bundle(bundle: Path, backend: str, provider: Optional[list[str]], precision: str, threads: Optional[int]):
    from vaedge.runtime import load

    return load(bundle, backend=backend, providers=provider or None, precision=precision, threads=threads)
