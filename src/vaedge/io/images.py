"""Images in and out: PNG grids of generated images, and image files from users decoded safely.

Every decoder goes through `decode_image`, which reads a regular file within a byte budget, lets
only the decoders of the formats vaedge reads (DECODERS: PNG, JPEG, BMP, GIF, WebP) look at the
bytes, whatever the file's name says (an EPS, PSD or any other format Pillow knows is refused, so no
plugin ever starts Ghostscript or parses a format nobody asked for), checks the pixel count the
header declares before decoding, and maps every mode Pillow opens to 8-bit grayscale or RGB:

| mode | becomes |
| --- | --- |
| 1, L, P, RGB, CMYK, YCbCr, LAB, HSV | Pillow's own conversion to L or RGB |
| I;16 (16-bit PNG), I, F | scaled from their full range (65535 for 16-bit) to 0..255, not clipped |
| LA, PA, RGBA, P with transparency | composited over black, the background of MNIST-style images |
| animated GIF, APNG, animated WebP | the first frame |
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import numpy as np

from vaedge.errors import DataError, InputError, VaedgeError
from vaedge.io import atomic
from vaedge.io.files import MiB, describe, read_regular

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
DECODERS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")  # Pillow format names: the only plugins that see a file
MAX_IMAGE_BYTES = 64 * MiB
MAX_IMAGE_PIXELS = 64_000_000  # 8000 x 8000; checked from the header, before decoding
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}  # the format follows the suffix


def grid(images: np.ndarray, columns: int | None = None, padding: int = 1) -> np.ndarray:
    """(N, H, W, C) floats in [0, 1] -> one uint8 (rows*H, columns*W, C) mosaic, row-major."""
    n, height, width, channels = images.shape
    if columns is not None and (isinstance(columns, bool) or not isinstance(columns, int) or columns < 1):
        raise InputError(f"columns must be a positive integer, got {columns!r}")
    columns = min(columns or math.ceil(math.sqrt(n)), n)  # never wider than the images need
    rows = math.ceil(n / columns)
    step_h, step_w = height + padding, width + padding
    mosaic = np.zeros((rows * step_h - padding, columns * step_w - padding, channels), np.uint8)
    for i, image in enumerate(images):  # one image at a time: no float copies of the whole batch
        r, c = divmod(i, columns)
        mosaic[r * step_h : r * step_h + height, c * step_w : c * step_w + width] = np.clip(
            np.rint(image * 255.0), 0, 255
        )
    return mosaic


def output_format(path: Path) -> str:
    """Pillow's format name for an image to write at `path`, from its suffix; InputError for any other."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise InputError(
            f"{describe(path)}: cannot write {describe(suffix) or 'a file without a suffix'}; "
            f"name it {' or '.join(OUTPUT_FORMATS)}"
        )
    return OUTPUT_FORMATS[suffix]


def png_bytes(pixels: np.ndarray, scale: int = 1, format: str = "PNG") -> bytes:
    """uint8 (H, W, 1|3) -> PNG (or `format`) bytes, upscaled by an integer factor with nearest neighbour."""
    if format == "PNG":
        from vaedge.io.png import encode_png

        return encode_png(pixels, scale)
    from PIL import Image

    if scale > 1:
        pixels = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    # named by extension, not format: Pillow then imports that one plugin, not its five preinit ones
    buffer = _NamedBuffer(f"image.{format.lower()}")
    image.save(buffer, **({"quality": 95} if format == "JPEG" else {}))
    return buffer.getvalue()


class _NamedBuffer(io.BytesIO):
    def __init__(self, name: str):
        super().__init__()
        self.name = name


def save_grid(path: Path, images: np.ndarray, columns: int | None = None, scale: int = 2) -> Path:
    """Write images (N, H, W, C) in [0, 1] as one grid, atomically, PNG or JPEG as the suffix says."""
    format = output_format(path)
    atomic.write_bytes(Path(path), png_bytes(grid(images, columns), scale=scale, format=format))
    return Path(path)


def decode_image(
    path: Path, channels: int, size: tuple[int, int] | None = None, error: type[VaedgeError] = DataError
) -> np.ndarray:
    """One image file -> uint8 (H, W, channels), resized (bilinear) to `size` (H, W) if given."""
    from PIL import Image, UnidentifiedImageError

    name = describe(path)
    data = read_regular(path, MAX_IMAGE_BYTES, error)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore")  # palette/transparency notes: handled below
            with Image.open(io.BytesIO(data), formats=DECODERS) as img:
                if img.width * img.height > MAX_IMAGE_PIXELS:
                    raise error(f"{name}: {img.width}x{img.height} pixels, more than the {MAX_IMAGE_PIXELS:,} allowed")
                img.seek(0)
                img = _to_8bit(img, channels)
                if size is not None and (img.height, img.width) != tuple(size):
                    img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                return np.asarray(img, np.uint8).reshape(img.height, img.width, channels)
    except VaedgeError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        EOFError,
        MemoryError,
    ) as exc:
        raise error(f"{name}: cannot decode image ({type(exc).__name__}: {describe(str(exc))})") from None


def _to_8bit(img, channels: int):
    """Any Pillow mode -> 'L' or 'RGB' (see the module's table)."""
    from PIL import Image

    target = "L" if channels == 1 else "RGB"
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        array = np.asarray(img, np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or (img.mode == "I" and array.max(initial=0) > 255) else 255.0
        if img.mode == "F" and array.max(initial=0) <= 1.0:
            top = 1.0
        gray = Image.fromarray(np.clip(np.rint(array / top * 255.0), 0, 255).astype(np.uint8), "L")
        return gray.convert(target)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("LA", "PA", "RGBa", "La"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        black = Image.new("RGBA", img.size, (0, 0, 0, 255))
        img = Image.alpha_composite(black, img).convert("RGB")
    return img.convert(target)


def as_uint8(pixels: np.ndarray, name: str, error: type[VaedgeError] = InputError) -> np.ndarray:
    """Pixels of any numeric dtype -> uint8, by the rules the runtime API applies (runtime.inputs):
    bool is 0 or 255, integers must be in 0..255, floats finite and in [0, 1] (scaled by 255)."""
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.bool_:
        return pixels.astype(np.uint8) * np.uint8(255)
    if pixels.dtype.kind in "iu":
        low, high = int(pixels.min(initial=0)), int(pixels.max(initial=0))
        if low < 0 or high > 255:
            raise error(f"{name}: integer pixels must be in 0..255, got {low}..{high}")
        return pixels.astype(np.uint8)
    if pixels.dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            wide = pixels.astype(np.float64)
        if not np.isfinite(wide).all() or wide.min(initial=0) < 0 or wide.max(initial=0) > 1:
            raise error(f"{name}: float pixels must be finite and in [0, 1] (divide 0..255 pixels by 255)")
        return np.rint(wide * 255.0).astype(np.uint8)
    raise error(f"{name}: pixels of dtype {pixels.dtype} are not images (expected uint8, bool, integers or floats)")


def read_images(paths, image_shape: tuple[int, int, int], limit: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Image files, IDX files/folders or .npz files -> (uint8 (N, H, W, C), a name per image).

    Pictures are converted to the bundle's channels and resized (bilinear) to its (H, W); an .npz
    gives `x_test` (else `x_train`), an IDX folder its t10k images. `limit` keeps the first N and
    bounds what is read.
    """
    from vaedge.io.arrays import read_npz
    from vaedge.io.idx import IMAGES_MAGIC, find_idx_file, is_idx, read_idx

    height, width, channels = image_shape
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    arrays, names, count = [], [], 0
    for path in map(Path, paths):
        left = None if limit is None else limit - count
        name = describe(path.name)
        if not path.exists():
            raise InputError(f"{describe(path)}: no such file or directory")
        try:
            idx_file = path.suffix.lower() not in (".npz", *IMAGE_SUFFIXES) and not path.is_dir() and is_idx(path)
        except DataError as exc:
            raise InputError(str(exc)) from None
        if path.is_dir() or idx_file:
            idx = find_idx_file(path, "test", "images") if path.is_dir() else path
            if idx is None:
                raise InputError(f"{describe(path)}: no t10k-images-idx3-ubyte[.gz] in this folder")
            try:
                batch = read_idx(idx, IMAGES_MAGIC, limit=left)[..., None]
            except DataError as exc:
                raise InputError(str(exc)) from None
        elif path.suffix == ".npz":
            found = read_npz(path, ["x_test", "x_train"], limit=left, error=InputError)
            key = "x_test" if "x_test" in found else "x_train" if "x_train" in found else None
            if key is None:
                raise InputError(f"{describe(path)}: no x_test or x_train array")
            batch = found[key]
            batch = batch[..., None] if batch.ndim == 3 else batch
            if batch.ndim != 4 or batch.shape[0] == 0:
                raise InputError(f"{describe(path)}: {key} holds no images shaped (N, H, W[, C]); got {batch.shape}")
            batch = as_uint8(batch, f"{describe(path)}: {key}")
            if batch.shape[1:] != (height, width, channels):
                raise InputError(
                    f"{describe(path)}: {key} holds images shaped {batch.shape[1:]}, the bundle takes "
                    f"{(height, width, channels)}"
                )
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            batch = decode_image(path, channels, (height, width), error=InputError)[None]
        else:
            raise InputError(f"{describe(path)}: not an image, IDX or .npz file")
        names += [name] if len(batch) == 1 else [f"{name}[{i}]" for i in range(len(batch))]
        arrays.append(batch)
        count += len(batch)
        if limit is not None and count >= limit:
            break
    images = np.concatenate(arrays)[:limit]
    return images, names[: len(images)]
