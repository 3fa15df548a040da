"""The figures as files: one image file in, one PNG (or JPEG/WebP, by the suffix) out, atomically."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from vaedge.errors import InputError
from vaedge.explain.figures import clusters_figure, explain_figure, map_figure
from vaedge.explain.posterior import light_background
from vaedge.io import atomic
from vaedge.io.files import describe

POLARITIES = ("auto", "as-is", "invert")


def check_target(path: Path) -> str:
    """The Pillow format for `path`'s suffix; InputError for any other suffix, OutputError for a non-file."""
    from vaedge.io.images import output_format

    kind = output_format(path)
    atomic.check_file_target(Path(path))
    return kind


def save(figure, path: Path) -> Path:
    """Write a Figure to `path` in the format its suffix names."""
    kind = check_target(path)
    buffer = io.BytesIO()
    figure.picture.save(buffer, format=kind, **({"quality": 92} if kind == "JPEG" else {}))
    atomic.write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def read_one_image(path: Path, image_shape: tuple[int, int, int], index: int = 0, polarity: str = "auto"):
    """(image (H, W, C) float32 in [0, 1], its name, whether it was inverted) from a picture or
    image `index` of an IDX file/folder or .npz; `auto` inverts a light-background image."""
    from vaedge.io.images import read_images

    if polarity not in POLARITIES:
        raise InputError(f"--polarity must be one of {', '.join(POLARITIES)}, got {polarity!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 1_000_000:
        raise InputError(f"--index must be an integer in 0..999999, got {index!r}")
    pixels, names = read_images([Path(path)], image_shape, limit=index + 1)
    if index >= len(pixels):
        raise InputError(f"{describe(path)}: holds {len(pixels)} image(s), so --index {index} is past the end")
    image = pixels[index].astype(np.float32) / 255.0
    invert = polarity == "invert" or (polarity == "auto" and light_background(image))
    return (1.0 - image if invert else image), describe(names[index]), invert


def held_out_z_mean(generator, images=None) -> np.ndarray | None:
    """z_mean (N, D) choosing the map's dims when D > 2: of `images`, else the bundle's parity.npz
    (as the page does), else None (and none is needed for D <= 2)."""
    if generator.latent_dim <= 2:
        return None
    if images is not None:
        return generator.encode(images)[0]
    from vaedge.errors import BundleError
    from vaedge.io.arrays import npz_arrays
    from vaedge.runtime.manifest import read_file
    from vaedge.runtime.parity import MAX_REFERENCE_BYTES

    manifest = generator.manifest
    file = next((f for f in manifest.files if f.role == "parity"), None)
    if file is None:
        return None
    return npz_arrays(
        read_file(manifest, file),
        describe(manifest.path(file)),
        ["z_mean"],
        max_bytes=MAX_REFERENCE_BYTES,
        error=BundleError,
    ).get("z_mean")


def write_explain(
    generator,
    image_path: Path,
    out: Path,
    index: int = 0,
    samples: int = 8,
    seed: int = 0,
    polarity: str = "auto",
    held_out=None,
    span: float | None = None,
):
    """`vaedge explain`: the Figure of one image written to `out`; returns (out, Posterior, inverted, notes)."""
    check_target(out)
    image, name, inverted = read_one_image(image_path, generator.image_shape, index, polarity)
    z_mean = held_out_z_mean(generator, held_out.images if held_out is not None else None)
    figure, post = explain_figure(
        generator,
        image,
        samples,
        seed,
        z_mean_held_out=z_mean,
        name=name + (" (inverted)" if inverted else ""),
        span=span,
    )
    return save(figure, out), post, inverted, figure.notes


def write_clusters(generator, held_out, out: Path, span: float | None = None) -> tuple[Path, list[str]]:
    """`vaedge clusters`: held-out images' z_mean coloured by class, written to `out`; returns (out, notes)."""
    check_target(out)
    figure = clusters_figure(generator, held_out, span=span)
    return save(figure, out), figure.notes


def write_map(generator, out: Path, cells: int, held_out_images=None, span: float | None = None) -> Path:
    """`vaedge manifold`: the latent map with labelled axes, written to `out`."""
    check_target(out)
    return save(map_figure(generator, cells, held_out_z_mean(generator, held_out_images), span), out)
