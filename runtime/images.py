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


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def read_images(paths, image_shape: tuple[int, int, int], limit: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Image files, IDX files/folders or .npz files -> (uint8 (N, H, W, C), a name per image).

    Pictures are converted to the bundle's channels and resized (bilinear) to its (H, W); an .npz
    gives `x_test` (else `x_train`), an IDX folder its t10k images. `limit` keeps the first N.
    """
    from PIL import Image, UnidentifiedImageError

    from vaedge.errors import InputError
    from vaedge.runtime.idx import IMAGES_MAGIC, find_idx_file, read_idx

    height, width, channels = image_shape
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    arrays, names = [], []
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if path.is_dir() or "-ubyte" in path.name:
            idx = find_idx_file(path, "test", "images") if path.is_dir() else path
            if idx is None:
                raise InputError(f"{path}: no t10k-images-idx3-ubyte[.gz] in this folder")
            batch = read_idx(idx, IMAGES_MAGIC)[..., None]
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                key = "x_test" if "x_test" in npz.files else "x_train" if "x_train" in npz.files else None
                if key is None:
                    raise InputError(f"{path}: no x_test or x_train array")
                batch = npz[key]
            batch = batch[..., None] if batch.ndim == 3 else batch
            if batch.ndim != 4 or batch.shape[0] == 0:
                raise InputError(f"{path}: {key} holds no images shaped (N, H, W[, C]); got {batch.shape}")
            if batch.dtype != np.uint8:
                batch = np.clip(np.rint(batch * 255.0 if batch.max() <= 1.0 else batch), 0, 255).astype(np.uint8)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            try:
                with Image.open(path) as img:
                    img = img.convert("L" if channels == 1 else "RGB")
                    if img.size != (width, height):
                        img = img.resize((width, height), Image.Resampling.BILINEAR)
                    batch = np.asarray(img, np.uint8).reshape(1, height, width, channels)
            except (UnidentifiedImageError, OSError) as exc:
                raise InputError(f"{path}: cannot decode image ({exc})") from None
        else:
            raise InputError(f"{path}: not an image, IDX or .npz file")
        names += [path.name] if len(batch) == 1 else [f"{path.name}[{i}]" for i in range(len(batch))]
        arrays.append(batch)
        if limit is not None and sum(map(len, arrays)) >= limit:
            break
    images = np.concatenate(arrays)[:limit]
    return images, names[: len(images)]
