"""`vaedge interpolate`: a strip of images on the line between two encoded images."""

from __future__ import annotations

from pathlib import Path

import typer

from vaedge.cli.bundle_options import BUNDLE, with_generator
from vaedge.io.files import describe
from vaedge.cli.errors import reported


@reported
@with_generator
def interpolate(
    bundle: Path = BUNDLE,
    start: Path = typer.Argument(..., help="First image file."),
    end: Path = typer.Argument(..., help="Last image file."),
    out: Path = typer.Option(..., "--out", help="PNG strip to write."),
    steps: int = typer.Option(10, help="Images in the strip, ends included."),
    generator=None,
) -> None:
    """Decode evenly spaced points between the z_mean of two images."""
    from vaedge.io.images import read_images, save_grid

    (a, b), _ = read_images([start, end], generator.image_shape, limit=2)
    strip = generator.interpolate(a, b, steps)
    save_grid(out, strip, columns=steps)
    typer.echo(f"{describe(out)}: {steps} images from {describe(start.name)} to {describe(end.name)}")
