"""What every runtime command shares: the bundle argument and the engine options, defined once.

A command declares the options it takes with these types (`backend: Backend = AUTO`, ...), packs
them into one `vaedge.runtime.options.EngineOptions` and opens the bundle with `open_bundle`. Defaults are
`vaedge.runtime.load`'s own (typer shows them); help strings don't repeat them.
"""

from __future__ import annotations

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
__all__ = ["AUTO", "BUNDLE", "Backend", "Device", "Precision", "Provider", "PublicKey", "Threads", "open_bundle"]


def open_bundle(bundle: Path, options, public_key: Path | None = None):
    """`vaedge.runtime.load` of `bundle` with `options` (an EngineOptions); with `public_key`, its
    signature must verify."""
    from vaedge.runtime.generator import load_bundle

    return load_bundle(bundle, options, public_key=public_key)
