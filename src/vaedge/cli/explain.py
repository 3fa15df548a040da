"""`vaedge explain`: one figure of what the encoder says about one image (for a course forum answer)."""

from __future__ import annotations

from pathlib import Path

import typer

from vaedge.cli.bundle_options import BUNDLE, ENGINE, MapRange, PublicKey, engine_options, open_bundle
from vaedge.cli.errors import reported
from vaedge.io.files import describe
from vaedge.runtime.options import EngineOptions


@reported
@engine_options
def explain(
    bundle: Path = BUNDLE,
    image: Path = typer.Argument(..., help="A picture (png, jpg, ...), or an IDX file/folder or .npz (see --index)."),
    out: Path = typer.Option(..., "--out", help="Figure to write: .png, .jpg or .webp."),
    index: int = typer.Option(0, help="Which image of an IDX file/folder or .npz."),
    samples: int = typer.Option(8, help="How many z = z_mean + sigma * eps to draw and decode (1..64)."),
    seed: int = typer.Option(0, help="Seed of the eps stream (the page's seed gives the same eps)."),
    polarity: str = typer.Option("auto", help="auto (invert a light-background image), as-is or invert."),
    data: Path | None = typer.Option(
        None,
        help="Held-out images choosing the map's two dims when latent dim > 2 "
        "(default: the bundle's parity.npz, as the page).",
    ),
    span: MapRange = None,
    options: EngineOptions = ENGINE,
    public_key: PublicKey = None,
) -> None:
    """Input -> the encoder's two heads (z_mean, z_log_var, sigma) -> q(z|x) on the latent map with
    sampled z -> their decodes -> the reconstruction from z_mean, in one picture."""
    generator = open_bundle(bundle, options, public_key)
    from vaedge.explain.outputs import write_explain

    held_out = None
    if data is not None:
        from vaedge.explain.held_out import read_held_out

        held_out = read_held_out(data, generator.image_shape, 1000)
    path, post, inverted, notes = write_explain(generator, image, out, index, samples, seed, polarity, held_out, span)
    values = ", ".join(f"{v:+.3f}" for v in post.z_mean[:4])
    typer.echo(
        f"{describe(path)}: z_mean [{values}{', ...' if len(post.z_mean) > 4 else ''}]"
        + (" (input inverted: light background)" if inverted else "")
    )
    for note in notes:
        typer.echo(f"note: {note}")
    from vaedge.explain.posterior import far_limit, map_span

    limit = far_limit(map_span(generator, span))
    if post.far_from_prior(limit):
        typer.echo(
            f"warning: z_mean lies beyond |z| = {limit:g}, where the prior N(0, I) and 99% of held-out images "
            "end; is the image like the training data?",
            err=True,
        )
