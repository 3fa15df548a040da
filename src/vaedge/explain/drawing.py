"""Pillow drawing shared by the figures: images as tiles, the latent map with labelled axes,
q(z|x)'s ellipses and samples, and the class scatter with its legend."""

from __future__ import annotations

import numpy as np

from vaedge.explain.posterior import SPAN, to_map
from vaedge.io.images import grid

# matplotlib's tab10, then a grey for unlabelled images
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
UNLABELLED_COLOUR = "#999999"
MEAN_COLOUR, ONE_SIGMA, TWO_SIGMA, DOT = "#ff3b30", "#ffcc00", "#ff9500", "#30d158"
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
    """Ticks at the integers of [-span, span] and the names z[a] (across), z[b] (up) around the map `box`."""
    from PIL import Image, ImageDraw

    draw, small = ImageDraw.Draw(canvas), font(12)
    left, top, right, bottom = box
    draw.rectangle(box, outline="#333333")
    for value in range(-int(span), int(span) + 1):
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


def ellipse(draw, box, centre: np.ndarray, radii: np.ndarray, colour: str, span: float = SPAN) -> None:
    """An axis-aligned ellipse with `centre` and `radii` in z units on the map `box`."""
    left, top, right, bottom = box
    scale = (right - left) / (2 * span)
    x = left + (centre[0] + span) * scale
    y = top + (span - centre[1]) * (bottom - top) / (2 * span)
    rx, ry = radii[0] * scale, radii[1] * (bottom - top) / (2 * span)
    draw.ellipse([x - rx, y - ry, x + rx, y + ry], outline=colour, width=2)


def points(draw, box, z: np.ndarray, dims, colours, radius: float = 4, labels=None, span: float = SPAN) -> None:
    """Dots at z (N, D) on the map `box`, one colour each (or one for all), optionally numbered."""
    left, top, right, _ = box
    xy = to_map(z, dims, right - left, span) + [left, top]
    for i, (x, y) in enumerate(xy):
        colour = colours if isinstance(colours, str) else colours[i]
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
