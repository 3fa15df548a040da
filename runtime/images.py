"""Images in and out: grids of generated images as PNG (pillow), image files to arrays."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from vaedge.runtime import atomic


def grid(images: np.ndarray, columns: int | None = None, padding: int = 1) -> np.ndarray:
    """(N, H, W, C) floats in [0, 1] -> one uint8 (rows*H, columns*W, C) mosaic, row-major."""
    n, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    step_h, step_w = height + padding, width + padding
    mosaic = np.zeros((rows * step_h - padding, columns * step_w - padding, channels), np.uint8)
    pixels = np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, columns)
        mosaic[r * step_h : r * step_h + height, c * step_w : c * step_w + width] = image
    return mosaic


def png_bytes(pixels: np.ndarray, scale: int = 1) -> bytes:
    """uint8 (H, W, 1|3) -> PNG bytes, upscaled by an integer factor with nearest neighbour."""
    from PIL import Image

    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def save_grid(path: Path, images: np.ndarray, columns: int | None = None, scale: int = 2) -> Path:
    """Write images (N, H, W, C) in [0, 1] as one PNG grid, atomically."""
    atomic.write_bytes(Path(path), png_bytes(grid(images, columns), scale=scale))
    return Path(path)
