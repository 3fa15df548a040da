"""vaedge.io.png: what it writes, Pillow reads back pixel for pixel, checksums verified."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vaedge.io.images import png_bytes
from vaedge.io.png import encode_png

MODES = {1: "L", 3: "RGB", 4: "RGBA"}


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (64, 3)])
def test_pillow_reads_back_every_pixel(channels, shape):
    rng = np.random.default_rng(channels * 100 + shape[0])
    pixels = rng.integers(0, 256, (*shape, channels), dtype=np.uint8)
    pixels[0, 0] = 255  # a wrap of the Sub filter: 0 - 255 modulo 256
    if shape[1] > 1:
        pixels[0, 1] = 0
    data = encode_png(pixels)
    with Image.open(io.BytesIO(data)) as image:
        image.verify()  # every chunk's CRC
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.mode == MODES[channels] and image.size == (shape[1], shape[0])
        np.testing.assert_array_equal(np.asarray(image).reshape(pixels.shape), pixels)


def test_a_scaled_grid_is_pillows_nearest_neighbour_upscale():
    pixels = np.random.default_rng(0).integers(0, 256, (29, 57, 1), dtype=np.uint8)
    with Image.open(io.BytesIO(png_bytes(pixels, scale=2))) as image:
        ours = np.asarray(image)
    pillow = Image.fromarray(pixels[..., 0]).resize((114, 58), Image.Resampling.NEAREST)
    np.testing.assert_array_equal(ours, np.asarray(pillow))


@pytest.mark.parametrize(
    "pixels",
    [np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((0, 4, 1), np.uint8), np.zeros((4, 4))],
)
def test_pixels_it_cannot_write_are_a_value_error(pixels):
    with pytest.raises(ValueError, match="uint8"):
        encode_png(pixels)


@pytest.mark.parametrize("scale", [0, -1, 1.5, True])
def test_a_scale_that_is_not_a_positive_integer_is_a_value_error(scale):
    with pytest.raises(ValueError, match="scale"):
        encode_png(np.zeros((2, 2, 1), np.uint8), scale)


def test_many_blocks_of_rows_make_one_image():
    pixels = np.random.default_rng(1).integers(0, 256, (200, 5, 3), dtype=np.uint8)  # more rows than a block
    with Image.open(io.BytesIO(encode_png(pixels, scale=3))) as image:
        np.testing.assert_array_equal(np.asarray(image), pixels.repeat(3, axis=0).repeat(3, axis=1))
