"""Pillow drawing shared by the figures: images as tiles, the latent map with labelled axes,
q(z|x)'s ellipses and samples, the prior's circles, and the class scatter with its legend.

Whatever is drawn on the map goes through `clipped`, so nothing leaves its panel: a point beyond the
map is drawn at its edge as a triangle pointing the way it lies (`points` says which)."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from vaedge.explain.posterior import SPAN, to_map
from vaedge.io.images import grid

# matplotlib's tab10, then a grey for unlabelled images
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
UNLABELLED_COLOUR = "#999999"
MEAN_COLOUR, ONE_SIGMA, TWO_SIGMA, DOT = "#ff3b30", "#ffcc00", "#ff9500", "#30d158"
PRIOR_COLOUR, PRIOR_ON_WHITE = "#5ac8fa", "#555555"  # over decoded tiles, over a white scatter
AXIS_LEFT, AXIS_BOTTOM = 46, 40  # room for tick labels and the axis names


def font(size: int = 14):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def tile(images: np.ndarray, columns: int, size: tuple[int, int] | None = None, padding: int = 0):
    """(N, H, W, C) in [0, 1] -> an RGB Pillow image of their grid, resized (nearest) to `size` (w, h)."""
    from PIL import Image

    pixels = grid(images, columns, padding=padding)
    picture = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).convert("RGB")
    return picture if size is None else picture.resize(size, Image.Resampling.NEAREST)


def axes(canvas, box: tuple[int, int, int, int], dims: tuple[int, int], span: float = SPAN) -> None:
    """Ticks at the integers of [-span, span] (every ceil(span / 6)) and the names z[a] (across), z[b] (up)
    around the map `box`."""
    from PIL import Image, ImageDraw

    draw, small = ImageDraw.Draw(canvas), font(12)
    left, top, right, bottom = box
    draw.rectangle(box, outline="#333333")
    step = max(1, int(np.ceil(span / 6)))
    for value in range(-int(span // step) * step, int(span) + 1, step):
        x = left + (value + span) / (2 * span) * (right - left)
        y = top + (span - value) / (2 * span) * (bottom - top)
        draw.line([(x, bottom), (x, bottom + 5)], fill="#333333")
        draw.text((x, bottom + 7), f"{value:g}", fill="#333333", font=small, anchor="mt")
        draw.line([(left - 5, y), (left, y)], fill="#333333")
        draw.text((left - 8, y), f"{value:g}", fill="#333333", font=small, anchor="rm")
    draw.text(((left + right) / 2, bottom + 24), f"z[{dims[0]}]", fill="#000000", font=font(14), anchor="mt")
    label = Image.new("RGBA", (60, 20), (0, 0, 0, 0))
    ImageDraw.Draw(label).text((30, 10), f"z[{dims[1]}]", fill="#000000", font=font(14), anchor="mm")
    label = label.rotate(90, expand=True)
    canvas.paste(label, (left - AXIS_LEFT, int((top + bottom) / 2 - label.height / 2)), label)


@contextmanager
def clipped(canvas, box: tuple[int, int, int, int]):
    """An ImageDraw in `canvas`'s coordinates on a transparent layer; only the part inside `box` is kept."""
    from PIL import Image, ImageDraw

    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    yield ImageDraw.Draw(layer)
    inside = layer.crop((box[0], box[1], box[2] + 1, box[3] + 1))
    canvas.paste(inside, box[:2], inside)


def prior_circles(draw, box, span: float = SPAN, colour: str = PRIOR_COLOUR) -> None:
    """The prior N(0, I)'s 1- and 2-sigma circles (radius 1 and 2 in z) around the map's origin, dashed
    and labelled."""
    left, top, right, bottom = box
    centre = (left + (right - left) / 2, top + (bottom - top) / 2)
    for k in (1, 2):
        rx, ry = k * (right - left) / (2 * span), k * (bottom - top) / (2 * span)
        ring = [centre[0] - rx, centre[1] - ry, centre[0] + rx, centre[1] + ry]
        for start in range(0, 360, 10):
            draw.arc(ring, start, start + 6, fill=colour, width=2)
        label = "prior 2 sd" if k == 2 else "1 sd"
        draw.text(
            (centre[0], centre[1] - ry - 3),
            label,
            fill=colour,
            font=font(11),
            anchor="mb",
            stroke_width=2,
            stroke_fill="#000000" if colour == PRIOR_COLOUR else "#ffffff",
        )


def ellipse(draw, box, centre, radii, colour: str, span: float = SPAN, width: int = 2) -> None:
    """An axis-aligned ellipse with `centre` and `radii` in z units on the map `box`: only its arcs near
    the box are drawn, as polylines fine enough to pass for the curve, so a huge sigma costs no more
    than a small one (Pillow's own ellipse takes time in proportion to the radius)."""
    left, top, right, bottom = box
    sx, sy = (right - left) / (2 * span), (bottom - top) / (2 * span)
    x0, y0 = left + (centre[0] + span) * sx, top + (span - centre[1]) * sy
    rx, ry = radii[0] * sx, radii[1] * sy
    if not np.isfinite([x0, y0, rx, ry]).all():
        return
    count = int(np.clip(np.pi * (rx + ry), 64, 100_000))
    theta = np.linspace(0, 2 * np.pi, count + 1)
    x, y = x0 + rx * np.cos(theta), y0 + ry * np.sin(theta)
    reach = width + 2
    near = (x > left - reach) & (x < right + reach) & (y > top - reach) & (y < bottom + reach)
    # runs of consecutive points near the box, each drawn as one polyline
    edges = np.flatnonzero(np.diff(np.concatenate([[0], near.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2]):
        run = list(zip(x[max(start - 1, 0) : stop + 1].tolist(), y[max(start - 1, 0) : stop + 1].tolist()))
        if len(run) >= 2:
            draw.line(run, fill=colour, width=width, joint="curve")


def points(draw, box, z: np.ndarray, dims, colours, radius: float = 4, labels=None, span: float = SPAN) -> np.ndarray:
    """Dots at z (N, D) on the map `box`, one colour each (or one for all), optionally numbered; a z beyond
    the map becomes a triangle at its edge pointing the way it lies. Returns (N,) True for those."""
    left, top, right, bottom = box
    xy = to_map(z, dims, right - left, span) + [left, top]
    outside = (xy != np.clip(xy, [left, top], [right, bottom])).any(axis=1)
    margin = radius * 1.6 + 1  # the triangle's reach: the whole marker stays inside
    edge = np.clip(xy, [left + margin, top + margin], [right - margin, bottom - margin])
    for i, (x, y) in enumerate(np.where(outside[:, None], edge, xy)):
        out = outside[i]
        colour = colours if isinstance(colours, str) else colours[i]
        if out:
            triangle(draw, (x, y), xy[i] - (x, y), radius * 1.6, colour)
        else:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour, outline="#000000")
        if labels is not None:
            draw.text(
                (x + radius + 1, y - radius - 1),
                labels[i],
                fill="#ffffff",
                font=font(11),
                anchor="lb",
                stroke_width=2,
                stroke_fill="#000000",
            )
    return outside


def triangle(draw, centre, towards, size: float, colour: str) -> None:
    """A triangle around `centre` whose tip points along the vector `towards` (pixels)."""
    direction = np.asarray(towards, np.float64) / max(float(np.hypot(*towards)), 1e-9)
    across = np.array([-direction[1], direction[0]])
    tip = np.asarray(centre) + direction * size
    back = np.asarray(centre) - direction * size * 0.6
    corners = [tuple(tip), tuple(back + across * size * 0.8), tuple(back - across * size * 0.8)]
    draw.polygon(corners, fill=colour, outline="#000000")


def legend(draw, origin: tuple[int, int], entries: list[tuple[str, str, int]]) -> int:
    """Colour squares with `name (count)` from `origin` down; returns the bottom y."""
    x, y = origin
    for colour, name, count in entries:
        draw.rectangle([x, y + 2, x + 12, y + 14], fill=colour, outline="#000000")
        draw.text((x + 18, y), f"{name} ({count})", fill="#000000", font=font(13))
        y += 20
    return y


def class_colours(labels: np.ndarray | None, class_names: tuple[str, ...], count: int) -> tuple[list[str], list]:
    """(one colour per image, legend entries (colour, name, count)) for labelled or unlabelled images."""
    if labels is None:
        return [UNLABELLED_COLOUR] * count, [(UNLABELLED_COLOUR, "unlabelled", count)]
    colours = [COLOURS[int(k) % len(COLOURS)] for k in labels]
    present = sorted({int(k) for k in labels})
    names = [class_names[k] if k < len(class_names) else str(k) for k in present]
    return colours, [(COLOURS[k % len(COLOURS)], n, int((labels == k).sum())) for k, n in zip(present, names)]
