"""`vaedge interpolate`: a strip of images on the line between two encoded images."""

from __future__ import annotations

from pathlib import Path

import typer

from vaedge.cli.bundle_options import BUNDLE, ENGINE, PublicKey, engine_options, open_bundle
from vaedge.cli.errors import reported
from vaedge.io.files import describe
from vaedge.runtime.options import EngineOptions


@reported
@engine_options
def interpolate(
    bundle: Path = BUNDLE,
    start: Path = typer.Argument(..., help="First image (an image file; of an IDX or .npz file, its first image)."),
    end: Path = typer.Argument(..., help="Last image, the same way."),
    out: Path = typer.Option(..., "--out", help="Strip to write: .png or .jpg."),
    steps: int = typer.Option(10, help="Images in the strip, ends included."),
    options: EngineOptions = ENGINE,
    public_key: PublicKey = None,
) -> None:
    """Decode evenly spaced points between the z_mean of two images."""
    generator = open_bundle(bundle, options, public_key)
    from vaedge.io.images import output_format, read_images, save_grid

    output_format(out)  # before any work
    # one image from each argument: an IDX file or .npz named first gives its first image, not both ends
    (a,), (name_a,) = read_images([start], generator.image_shape, limit=1)
    (b,), (name_b,) = read_images([end], generator.image_shape, limit=1)
    strip = generator.interpolate(a, b, steps)
    save_grid(out, strip, columns=steps)
    typer.echo(f"{describe(out)}: {steps} images from {name_a} to {name_b}")
