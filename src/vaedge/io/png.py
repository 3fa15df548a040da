"""PNG bytes from uint8 pixels, with the standard library's zlib: the grids `vaedge generate` writes.

Pillow reads every image and writes the other formats (JPEG, WebP); for PNG, importing its plugin (with
logging, fractions, decimal and ImageFile) costs a cold `vaedge generate` more than the encoding does.
A PNG is a signature and three chunks (ISO/IEC 15948): IHDR, one zlib stream in IDAT, IEND. Every row
uses the Sub filter (each byte minus the same channel's byte one pixel to the left, modulo 256), which
suits the smooth rows of generated images.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type: greyscale, RGB, RGBA
SUB = 1  # the row filter type


ROWS_PER_BLOCK = 64  # rows of the input filtered and compressed at a time: the memory stays the input's


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def encode_png(pixels: np.ndarray, scale: int = 1, level: int = 3) -> bytes:
    """uint8 (H, W, C), C in 1, 3, 4, H and W >= 1 -> PNG bytes of it upscaled `scale` times by nearest
    neighbour (H*scale, W*scale), 8 bits per sample, not interlaced."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in COLOR_TYPES or 0 in pixels.shape:
        raise ValueError(f"encode_png takes uint8 (H, W, 1|3|4) pixels, got {pixels.dtype} {pixels.shape}")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    height, width, channels = pixels.shape
    row_bytes = width * scale * channels
    compressor, parts = zlib.compressobj(level), []
    for start in range(0, height, ROWS_PER_BLOCK):
        block = pixels[start : start + ROWS_PER_BLOCK]
        if scale > 1:
            block = block.repeat(scale, axis=0).repeat(scale, axis=1)
        rows = np.ascontiguousarray(block).reshape(len(block), row_bytes)
        filtered = np.empty((len(rows), 1 + row_bytes), np.uint8)
        filtered[:, 0] = SUB
        filtered[:, 1 : 1 + channels] = rows[:, :channels]
        np.subtract(rows[:, channels:], rows[:, :-channels], out=filtered[:, 1 + channels :])  # modulo 256
        parts.append(compressor.compress(filtered))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width * scale, height * scale, 8, COLOR_TYPES[channels], 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")
