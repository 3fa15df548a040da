"""The learner's figures, drawn with Pillow from a loaded bundle (a vaedge.runtime Generator):

- `map_figure`: the decoded latent map with labelled axes and the prior's circles (`vaedge manifold`);
- `clusters_figure`: held-out images' z_mean coloured by class, with a legend (`vaedge clusters`);
- `explain_figure`: one image -> the encoder's two heads -> q(z|x) on the map with K sampled z ->
  their decodes -> the reconstruction from z_mean (`vaedge explain`).

Each returns a Figure: the picture, the pixel box of every panel by name, the map's span and the notes
it printed (points beyond the map, drawn at its edge). All three use the bundle's span (map_span).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaedge.explain import drawing
from vaedge.explain.posterior import (
    KERAS_LAYERS,
    SPAN,
    far_limit,
    map_dims,
    map_latents,
    map_span,
    posterior,
)

MAP_PX = 420  # the latent map's side in pixels (15 tiles of 28)
MARGIN, TITLE = 16, 44
ARROW = 36
NOTE_COLOUR = "#b00020"


@dataclass
class Figure:
    """picture: an RGB PIL.Image; panels: {name: (left, top, right, bottom)} in its pixels; span: the map's
    half-side in z; notes: what lies beyond the map (also written on the picture)."""

    picture: object
    panels: dict
    span: float = SPAN
    notes: list = field(default_factory=list)


def map_side(cells: int, width: int) -> int:
    """The map's side in pixels: every tile the same whole number of pixels, at least MAP_PX / 2 in all."""
    return cells * width * max(1, -(-MAP_PX // 2 // (cells * width)))


def _map_panel(canvas, generator, dims, origin, cells: int, side: int = MAP_PX, span: float = SPAN):
    """Decode the map's tiles and paste them, `side` pixels a side, with axes and the prior's circles at
    `origin`; returns the tiles' box."""
    tiles = generator.decode(map_latents(generator.latent_dim, cells, dims, span))
    left, top = origin[0] + drawing.AXIS_LEFT, origin[1]
    canvas.paste(drawing.tile(tiles, cells, (side, side)), (left, top))
    box = (left, top, left + side, top + side)
    drawing.axes(canvas, box, dims, span)
    with drawing.clipped(canvas, box) as draw:
        drawing.prior_circles(draw, box, span)
    return box


def map_figure(generator, cells: int = 20, z_mean: np.ndarray | None = None, span: float | None = None) -> Figure:
    """The latent map of `cells` x `cells` decoded tiles over [-span, span]^2 (the bundle's span unless
    given) with labelled axes; z_mean (N, D) of held-out images chooses the two dims when D > 2."""
    from PIL import Image

    span = map_span(generator, span)
    dims = map_dims(generator.latent_dim, z_mean)
    map_latents(generator.latent_dim, cells, dims)  # checks cells before any drawing
    side = map_side(cells, generator.image_shape[1])
    width = MARGIN * 2 + drawing.AXIS_LEFT + side
    canvas = Image.new("RGB", (width, MARGIN * 2 + side + drawing.AXIS_BOTTOM), "white")
    box = _map_panel(canvas, generator, dims, (MARGIN, MARGIN), cells, side, span)
    return Figure(canvas, {"map": box}, span)


def clusters_figure(generator, held_out, z_mean: np.ndarray | None = None, span: float | None = None) -> Figure:
    """Held-out images' z_mean (N, D) as dots coloured by class over the map's dims and span, with the
    prior's circles and a legend; an image beyond the map is a triangle at its edge."""
    from PIL import Image, ImageDraw

    span = map_span(generator, span)
    if z_mean is None:
        z_mean, _ = generator.encode(held_out.images)
    dims = map_dims(generator.latent_dim, z_mean)
    colours, entries = drawing.class_colours(held_out.labels, held_out.class_names, len(z_mean))
    legend_width = 190
    width = MARGIN * 3 + drawing.AXIS_LEFT + MAP_PX + legend_width
    canvas = Image.new("RGB", (width, TITLE + MAP_PX + drawing.AXIS_BOTTOM + MARGIN), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (MARGIN, 12),
        f"z_mean of {len(z_mean)} held-out images ({Path(held_out.source).name})",
        fill="#000000",
        font=drawing.font(15),
    )
    left = MARGIN + drawing.AXIS_LEFT
    box = (left, TITLE, left + MAP_PX, TITLE + MAP_PX)
    drawing.axes(canvas, box, dims, span)
    with drawing.clipped(canvas, box) as layer:
        outside = drawing.points(layer, box, z_mean, dims, colours, radius=3, span=span)
        drawing.prior_circles(layer, box, span, drawing.PRIOR_ON_WHITE)  # over the dots: its labels stay legible
    bottom = drawing.legend(draw, (box[2] + MARGIN, TITLE), entries)
    notes = []
    if outside.any():
        notes.append(
            f"{int(outside.sum())} of {len(z_mean)} lie beyond the map (|z| > {span:g}): triangles at its edge"
        )
        _note(draw, (box[2] + MARGIN, bottom + 10), f"{int(outside.sum())} beyond the map:\ntriangles at its edge")
    legend_box = (box[2] + MARGIN, TITLE, width - MARGIN, TITLE + MAP_PX)
    return Figure(canvas, {"scatter": box, "legend": legend_box}, span, notes)


def explain_figure(
    generator,
    image: np.ndarray,
    samples: int = 8,
    seed: int = 0,
    cells: int = 15,
    z_mean_held_out: np.ndarray | None = None,
    name: str = "input image",
    span: float | None = None,
) -> tuple[Figure, object]:
    """One image (H, W, C) in [0, 1] -> (the Figure, its Posterior): the input, the encoder's two heads
    as numbers, q(z|x)'s 1- and 2-sigma ellipses with `samples` z and the prior's circles on the latent
    map, their decodes, and the reconstruction from z_mean."""
    from PIL import Image, ImageDraw

    span = map_span(generator, span)
    z_mean, z_log_var = generator.encode(image[None])
    post = posterior(z_mean[0], z_log_var[0], samples, seed)
    dims = map_dims(generator.latent_dim, z_mean_held_out)
    decodes = generator.decode(post.z)
    reconstruction = generator.decode(post.z_mean[None])

    side = 112  # the input and the reconstruction, drawn this many pixels a side
    text_width, columns = 330, 2
    thumb = 56
    rows = -(-samples // columns)
    x = MARGIN
    boxes = {"input": (x, TITLE + 20, x + side, TITLE + 20 + side)}
    x += side + ARROW
    boxes["heads"] = (x, TITLE + 20, x + text_width, TITLE + 20 + MAP_PX)
    x += text_width + ARROW
    map_box = (x + drawing.AXIS_LEFT, TITLE + 20, x + drawing.AXIS_LEFT + MAP_PX, TITLE + 20 + MAP_PX)
    boxes["map"] = map_box
    x = map_box[2] + ARROW
    boxes["decodes"] = (x, TITLE + 20, x + columns * (thumb + 2), TITLE + 20 + rows * (thumb + 2))
    x = boxes["decodes"][2] + ARROW
    boxes["reconstruction"] = (x, TITLE + 20, x + side, TITLE + 20 + side)
    width = boxes["reconstruction"][2] + MARGIN
    height = map_box[3] + drawing.AXIS_BOTTOM + MARGIN
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    title = (
        f"z = z_mean + exp(0.5 * z_log_var) * eps, eps ~ N(0, I) drawn on the host (seed {seed}), "
        "never inside the encoder or decoder graph"
    )
    draw.text((MARGIN, 14), title, fill="#000000", font=drawing.font(16))

    canvas.paste(drawing.tile(image[None], 1, (side, side)), boxes["input"][:2])
    _caption(draw, boxes["input"], name)
    _map_panel(canvas, generator, dims, (map_box[0] - drawing.AXIS_LEFT, map_box[1]), cells, span=span)
    with drawing.clipped(canvas, map_box) as layer:
        for k, colour in ((2, drawing.TWO_SIGMA), (1, drawing.ONE_SIGMA)):
            drawing.ellipse(layer, map_box, *post.ellipse(dims, k), colour, span)
        numbers = [str(i + 1) for i in range(samples)]
        samples_out = drawing.points(layer, map_box, post.z, dims, drawing.DOT, 4, numbers, span)
        mean_out = drawing.points(layer, map_box, post.z_mean[None], dims, drawing.MEAN_COLOUR, 6, span=span)[0]
    notes = []
    if mean_out:
        notes.append(f"z_mean lies beyond the map (|z| > {span:g}): drawn as the red triangle at its edge")
    if samples_out.any():
        notes.append(
            f"{int(samples_out.sum())} of {samples} sampled z lie beyond the map: drawn as triangles at its edge"
        )
    _heads(draw, boxes["heads"], post, dims, notes, span)
    _caption(draw, map_box, "q(z|x): z_mean (red), 1 and 2 sigma, sampled z; dashed: the prior")
    canvas.paste(
        drawing.tile(decodes, columns, (columns * (thumb + 2), rows * (thumb + 2)), padding=1), boxes["decodes"][:2]
    )
    _caption(draw, boxes["decodes"], f"decode(z), 1..{samples}")
    canvas.paste(drawing.tile(reconstruction, 1, (side, side)), boxes["reconstruction"][:2])
    _caption(draw, boxes["reconstruction"], "decode(z_mean)")
    for left, right in (("input", "heads"), ("heads", "map"), ("map", "decodes"), ("decodes", "reconstruction")):
        x0, x1 = boxes[left][2] + 6, boxes[right][0] - (drawing.AXIS_LEFT if right == "map" else 0) - 6
        draw.line([(x0, TITLE + 76), (x1, TITLE + 76)], fill="#333333", width=2)
        draw.polygon([(x1, TITLE + 76), (x1 - 8, TITLE + 71), (x1 - 8, TITLE + 81)], fill="#333333")
    return Figure(canvas, boxes, span, notes), post


def _caption(draw, box, text: str) -> None:
    draw.text((box[0], box[1] - 4), text, fill="#333333", font=drawing.font(12), anchor="lb")


def _note(draw, origin, text: str) -> None:
    draw.multiline_text(origin, text, fill=NOTE_COLOUR, font=drawing.font(13), spacing=4)


def _heads(draw, box, post, dims, notes: list[str], span: float) -> None:
    def values(array):
        return "[" + ", ".join(f"{v:+.3f}" for v in array[:4]) + (", ..." if len(array) > 4 else "") + "]"

    lines = [
        ("the encoder's two heads", "#000000", 15),
        (KERAS_LAYERS["z_mean"], "#333333", 12),
        (f"z_mean = {values(post.z_mean)}", drawing.MEAN_COLOUR, 14),
        (KERAS_LAYERS["z_log_var"], "#333333", 12),
        (f"z_log_var = {values(post.z_log_var)}", "#000000", 14),
        ("sigma = exp(0.5 * z_log_var)", "#333333", 12),
        (f"sigma = {values(post.sigma)}", "#b25d00", 14),
        ("Two Dense layers learned in training,", "#555555", 12),
        ("computed anew for every image.", "#555555", 12),
    ]
    if len(post.z_mean) > 2:
        lines.append((f"map: z[{dims[0]}] across, z[{dims[1]}] up", "#555555", 12))
    if post.far_from_prior(span):
        lines.append((f"warning: |z_mean| > {far_limit(span):g}: unlike held-out images", NOTE_COLOUR, 13))
    for note in notes:  # wrapped to the panel: "... beyond the map (...):" then where it is drawn
        head, _, tail = note.partition(": ")
        lines += [(head + ":", NOTE_COLOUR, 13), (tail, NOTE_COLOUR, 13)]
    y = box[1]
    for text, colour, size in lines:
        draw.text((box[0], y), text, fill=colour, font=drawing.font(size))
        y += size + 10
