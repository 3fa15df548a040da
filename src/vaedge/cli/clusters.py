"""`vaedge clusters`: held-out images' z_mean coloured by class (the classic VAE picture)."""

from __future__ import annotations

from pathlib import Path

import typer

from vaedge.cli.bundle_options import BUNDLE, ENGINE, MapRange, PublicKey, engine_options, open_bundle
from vaedge.cli.errors import reported
from vaedge.io.files import describe
from vaedge.runtime.options import EngineOptions


@reported
@engine_options
def clusters(
    bundle: Path = BUNDLE,
    data: Path = typer.Option(..., "--data", help="A dataset name, IDX folder/file or .npz: its test split."),
    out: Path = typer.Option(..., "--out", help="Figure to write: .png, .jpg or .webp."),
    limit: int = typer.Option(1000, help="At most this many held-out images (1..10000)."),
    span: MapRange = None,
    options: EngineOptions = ENGINE,
    public_key: PublicKey = None,
) -> None:
    """Scatter the held-out images' z_mean over the latent map's two dims and range, coloured by class, with a
    legend and the prior's 1- and 2-sigma circles."""
    generator = open_bundle(bundle, options, public_key)
    from vaedge.errors import InputError
    from vaedge.explain.held_out import read_held_out
    from vaedge.explain.outputs import check_target, write_clusters

    if not 1 <= limit <= 10_000:
        raise InputError(f"--limit must be in 1..10000, got {limit}")
    check_target(out)
    held_out = read_held_out(data, generator.image_shape, limit)
    path, notes = write_clusters(generator, held_out, out, span)
    typer.echo(
        f"{describe(path)}: z_mean of {len(held_out.images)} held-out images"
        + ("" if held_out.labels is not None else " (unlabelled)")
    )
    for note in notes:
        typer.echo(f"note: {note}")
