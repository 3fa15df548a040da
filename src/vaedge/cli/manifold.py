"""`vaedge manifold`: the decoded latent map (the course's 2-D manifold plot), with labelled axes: z[a] across,
z[b] up, each over the bundle's range (chosen at export to cover the held-out images, at least [-3, 3]),
the same map as the page's, with the prior's 1- and 2-sigma circles."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import BUNDLE, ENGINE, MapRange, PublicKey, engine_options, open_bundle
from vaedge.cli.errors import reported
from vaedge.io.files import describe
from vaedge.runtime.options import EngineOptions


@reported
@engine_options
def manifold(
    bundle: Path = BUNDLE,
    out: Path = typer.Option(..., "--out", help="Image to write: .png or .jpg."),
    size: int = typer.Option(20, help="Grid is size x size tiles (2..100)."),
    data: Optional[list[Path]] = typer.Option(
        None, help="Images (files, IDX or .npz) choosing the two dims for latent dim > 2."
    ),
    limit: int = typer.Option(1000, help="At most this many images from --data."),
    span: MapRange = None,
    options: EngineOptions = ENGINE,
    public_key: PublicKey = None,
) -> None:
    """Decode a grid over the bundle's [-range, range]^2 of two latent dims (those with most variance on --data
    when D > 2)."""
    generator = open_bundle(bundle, options, public_key)
    from vaedge.explain.outputs import check_target, write_map
    from vaedge.explain.posterior import map_span
    from vaedge.io.images import read_images

    check_target(out)
    images = read_images(data, generator.image_shape, limit)[0] if data else None
    write_map(generator, out, size, images, span)
    reach = map_span(generator, span)
    typer.echo(f"{describe(out)}: {size}x{size} latent map over [-{reach:g}, {reach:g}]^2")
