"""`vaedge manifold`: the decoded latent map (the course's 2-D manifold plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import BUNDLE, with_generator
from vaedge.io.files import describe
from vaedge.cli.errors import reported


@reported
@with_generator
def manifold(
    bundle: Path = BUNDLE,
    out: Path = typer.Option(..., "--out", help="Image to write: .png or .jpg."),
    size: int = typer.Option(20, help="Grid is size x size."),
    data: Optional[list[Path]] = typer.Option(None, help="Images (files, IDX or .npz) choosing the two dims for latent dim > 2."),
    limit: int = typer.Option(1000, help="At most this many images from --data."),
    generator=None,
) -> None:
    """Decode a grid over the prior's quantiles (two dims with most variance on --data when D > 2)."""
    from vaedge.io.images import output_format, read_images, save_grid

    output_format(out)  # before any work
    images = read_images(data, generator.image_shape, limit)[0] if data else None
    save_grid(out, generator.latent_grid(size, images=images), columns=size, scale=1)
    typer.echo(f"{describe(out)}: {size}x{size} latent map")
