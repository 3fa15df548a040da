"""`vaedge micro`: a bundle's micro graphs as C/C++ source for TensorFlow Lite Micro."""

from __future__ import annotations

from pathlib import Path

import typer

from vaedge.cli.bundle_options import BUNDLE
from vaedge.cli.errors import reported


@reported
def micro(
    bundle: Path = BUNDLE,
    out: Path = typer.Option(..., "--out", help="Folder to create for the C/C++ sources."),
    force: bool = typer.Option(False, help="Replace a folder `vaedge micro` wrote before."),
) -> None:
    """Write each micro graph (`vaedge export --micro`) as an aligned C array, its arena size, I/O
    scales and zero points, an op resolver with exactly its ops, and a README for a sketch."""
    from vaedge.io.files import describe
    from vaedge.runtime.micro_source import write_micro_sources

    graphs = write_micro_sources(bundle, out, force=force)
    for graph in graphs.values():
        typer.echo(f"{describe(graph.file)}: arena {graph.arena_bytes} bytes, flash {graph.flash_bytes} bytes")
    typer.echo(f"{describe(out)}: C/C++ sources written for {', '.join(graphs)}")
