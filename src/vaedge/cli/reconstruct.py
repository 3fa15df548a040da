"""`vaedge reconstruct`: images and their reconstructions, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import BUNDLE, ENGINE, PublicKey, engine_options, open_bundle
from vaedge.cli.errors import reported
from vaedge.io.files import describe
from vaedge.runtime.options import EngineOptions


@reported
@engine_options
def reconstruct(
    bundle: Path = BUNDLE,
    images: list[Path] = typer.Argument(..., help="Image files, or an IDX file/folder or .npz."),
    out: Path = typer.Option(..., "--out", help="Image to write (.png or .jpg): each input beside its reconstruction."),
    limit: Optional[int] = typer.Option(16, help="At most this many images."),
    seed: Optional[int] = typer.Option(0, help="Seed for the posterior eps."),
    mean: bool = typer.Option(False, "--mean", help="Decode z_mean instead of sampling the posterior."),
    options: EngineOptions = ENGINE,
    public_key: PublicKey = None,
) -> None:
    """Encode, sample z on the host, decode: inputs and reconstructions in pairs."""
    generator = open_bundle(bundle, options, public_key)
    import numpy as np

    from vaedge.io.images import output_format, read_images, save_grid

    output_format(out)  # before any work
    pixels, names = read_images(images, generator.image_shape, limit)
    recon = generator.reconstruct(pixels, seed=seed, sample=not mean)
    pairs = np.empty((2 * len(pixels), *generator.image_shape), np.float32)
    pairs[0::2], pairs[1::2] = pixels / 255.0, recon
    save_grid(out, pairs, columns=2 * min(len(pixels), 8))
    typer.echo(f"{describe(out)}: {len(pixels)} images and their reconstructions")
