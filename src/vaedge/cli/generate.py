"""`vaedge generate`: sample the prior, decode, write a PNG grid (and optionally the arrays)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import (
    AUTO,
    BUNDLE,
    Backend,
    Device,
    Precision,
    Provider,
    PublicKey,
    Threads,
    open_bundle,
)
from vaedge.cli.errors import fail, reported
from vaedge.io.files import describe
from vaedge.runtime.options import EngineOptions


@reported
def generate(
    bundle: Path = BUNDLE,
    out: Path = typer.Option(..., "--out", help="Image grid to write: .png or .jpg."),
    n: int = typer.Option(64, help="Number of images."),
    seed: Optional[int] = typer.Option(None, help="Seed for eps (default: fresh randomness)."),
    temperature: float = typer.Option(1.0, help="z = temperature * eps."),
    columns: Optional[int] = typer.Option(None, help="Grid columns (default: square)."),
    npy: Optional[Path] = typer.Option(None, "--npy", help="Also write eps, z and images to this .npz."),
    backend: Backend = AUTO,
    provider: Provider = None,
    precision: Precision = "fp32",
    threads: Threads = None,
    device: Device = None,
    public_key: PublicKey = None,
) -> None:
    """Generate n images from the prior, sampled on the host and decoded by the bundle's decoder."""
    generator = open_bundle(bundle, EngineOptions(backend, precision, provider, threads, device), public_key)
    if n <= 0:
        raise fail(f"--n must be positive, got {n}")
    if columns is not None and columns < 1:
        raise fail(f"--columns must be positive, got {columns}")
    import numpy as np

    from vaedge.io import atomic
    from vaedge.io.images import output_format, save_grid
    from vaedge.runtime.inputs import check_memory

    for target in (out, npy):
        if target is not None:
            atomic.check_file_target(target)  # before any work: never a device, FIFO or directory
    output_format(out)  # .png or .jpg: the format follows the suffix
    # Peak: the images (float32, A bytes), the uint8 mosaic and its Pillow copy (A/4 each), the 2x-scaled
    # grid (A) and its PNG bytes with their copy (up to A each): 4.5 A; --npy adds its buffer and copy (2 A).
    image_array = n * int(np.prod(generator.image_shape)) * 4
    check_memory(int((4.5 + 2 * (npy is not None)) * image_array), f"{n} images and their PNG grid")

    images, eps = generator.sample(n, seed=seed, temperature=temperature, return_eps=True)
    if npy is not None:
        import io

        buffer = io.BytesIO()
        np.savez(buffer, eps=eps, z=(temperature * eps).astype(np.float32), images=images)
        atomic.write_bytes(npy, buffer.getvalue())
    save_grid(out, images, columns=columns)
    typer.echo(f"{describe(out)}: {n} images ({generator.providers[0]}, {generator.precision})")
