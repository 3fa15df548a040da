"""`vaedge generate`: sample the prior, decode, write a PNG grid (and optionally the arrays)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import BUNDLE, ENGINE, PublicKey, engine_options
from vaedge.cli.errors import reported
from vaedge.runtime.options import EngineOptions


@reported
@engine_options
def generate(
    bundle: Path = BUNDLE,
    out: Path = typer.Option(..., "--out", help="Image grid to write: .png or .jpg."),
    n: int = typer.Option(64, help="Number of images."),
    seed: Optional[int] = typer.Option(None, help="Seed for eps (default: fresh randomness)."),
    temperature: float = typer.Option(1.0, help="z = temperature * eps."),
    columns: Optional[int] = typer.Option(None, help="Grid columns (default: square)."),
    npy: Optional[Path] = typer.Option(None, "--npy", help="Also write eps, z and images to this .npz."),
    options: EngineOptions = ENGINE,
    public_key: PublicKey = None,
) -> None:
    """Generate n images from the prior, sampled on the host and decoded by the bundle's decoder."""
    from vaedge.cli.generate_grid import GenerateRequest, write_grid

    typer.echo(write_grid(GenerateRequest(bundle, out, n, seed, temperature, columns, npy, options, public_key)))
