"""`vaedge encode`: z_mean and z_log_var of images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import BUNDLE, ENGINE, PublicKey, engine_options, open_bundle
from vaedge.cli.errors import reported
from vaedge.io.files import describe
from vaedge.runtime.options import EngineOptions


@reported
@engine_options
def encode(
    bundle: Path = BUNDLE,
    images: list[Path] = typer.Argument(..., help="Image files, or an IDX file/folder or .npz."),
    limit: Optional[int] = typer.Option(None, help="At most this many images."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    options: EngineOptions = ENGINE,
    public_key: PublicKey = None,
) -> None:
    """Print z_mean and z_log_var (a log-variance) per image."""
    generator = open_bundle(bundle, options, public_key)
    from vaedge.io.images import read_images

    pixels, names = read_images(images, generator.image_shape, limit)
    z_mean, z_log_var = generator.encode(pixels)
    rows = [
        {"image": describe(name), "z_mean": m.tolist(), "z_log_var": v.tolist()}
        for name, m, v in zip(names, z_mean, z_log_var)
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("image", "z_mean", "z_log_var")
    for row in rows:
        table.add_row(
            row["image"], " ".join(f"{x:+.3f}" for x in row["z_mean"]), " ".join(f"{x:+.3f}" for x in row["z_log_var"])
        )
    Console(markup=False, highlight=False).print(table)
