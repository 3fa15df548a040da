"""Pixels that would give wrong figures without a word: bool images, NaN or out-of-range .npz pixels,
files read as IDX by their name, a PNG and an .npz of another shape together, ragged API inputs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from vaedge import runtime
from vaedge.cli import app
from vaedge.errors import InputError
from vaedge.io.idx import IMAGES_MAGIC
from vaedge.io.images import read_images
from vaedge.runtime.inputs import as_images

pytestmark = pytest.mark.reliability
runner = CliRunner()


def test_bool_images_are_black_and_white(reliability):
    images = np.zeros((2, 28, 28, 1), bool)
    images[0, :14] = True
    np.testing.assert_array_equal(as_images(images, (28, 28, 1)), images.astype(np.float32))
    reliability(
        "wrong figures: bool images to the runtime API and evaluate",
        "read as 0.0 and 1.0",
    )


def test_evaluate_reads_bool_npz_like_uint8(bundle, tmp_path, reliability):
    from vaedge.io.datasets import read_test_split

    x = read_test_split("fashion_mnist", limit=16)[1]
    binary = x > 127
    np.savez(tmp_path / "bool.npz", x_test=binary)
    np.savez(tmp_path / "u8.npz", x_test=binary.astype(np.uint8) * 255)
    figures = []
    for name in ("bool.npz", "u8.npz"):
        result = runner.invoke(
            app,
            [
                "evaluate",
                str(bundle),
                "--data",
                str(tmp_path / name),
                "--k",
                "2",
                "--json",
                str(tmp_path / f"{name}.json"),
            ],
        )
        assert result.exit_code == 0, result.output
        figures.append((tmp_path / f"{name}.json").read_text().split('"variants"')[-1])
    assert figures[0] == figures[1]
    reliability(
        "wrong figures: vaedge evaluate on bool images",
        "same nats as the same images in uint8",
    )


def npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "pixels, message",
    [
        (np.full((2, 28, 28), np.nan, np.float32), "finite"),
        (np.full((2, 28, 28), np.inf), "finite"),
        (np.full((2, 28, 28), 10**12, np.int64), "0..255"),
        (np.full((2, 28, 28), -1, np.int16), "0..255"),
        (np.full((2, 28, 28), 2.0, np.float32), r"\[0, 1\]"),
        (np.full((2, 28, 28), "a"), "dtype"),
        (np.zeros((2, 32, 32), np.uint8), "shaped"),
        (np.zeros((2, 28, 28, 3), np.uint8), "shaped"),
    ],
)
def test_npz_pixels_follow_the_api_rules(bundle, tmp_path, pixels, message, reliability):
    path = npz(tmp_path / "x.npz", x_test=pixels)
    with pytest.raises(InputError, match=message):
        read_images([path], (28, 28, 1))
    for command in ("reconstruct", "encode"):
        result = runner.invoke(
            app,
            [command, str(bundle), str(path), "--out", str(tmp_path / "r.png")]
            if command == "reconstruct"
            else [command, str(bundle), str(path)],
        )
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    reliability(
        "wrong figures: .npz pixels NaN, inf, 10^12, negative, >1, strings, another shape",
        "InputError naming the file, as the API",
    )


def test_png_and_npz_of_another_shape_together(bundle, tmp_path, reliability):
    png = tmp_path / "a.png"
    Image.new("L", (40, 40), 9).save(png)
    path = npz(tmp_path / "x.npz", x_test=np.zeros((2, 32, 32), np.uint8))
    result = runner.invoke(
        app,
        [
            "reconstruct",
            str(bundle),
            str(png),
            str(path),
            "--out",
            str(tmp_path / "r.png"),
        ],
    )
    assert result.exit_code == 1 and "shaped" in result.output and result.output.count("\n") == 1, result.output
    reliability("bad input: a PNG with an .npz of another shape", "one line naming the file")


def idx_bytes(n=3) -> bytes:
    return IMAGES_MAGIC.to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(n * 784)


def test_idx_is_chosen_by_content_not_name(tmp_path, reliability):
    import gzip

    png = tmp_path / "my-ubyte-photo.png"
    Image.new("L", (28, 28), 200).save(png)
    images, _ = read_images([png], (28, 28, 1))
    assert images.shape == (1, 28, 28, 1) and images.mean() == 200  # a PNG, whatever its name says
    plain = tmp_path / "digits.idx"
    plain.write_bytes(idx_bytes())
    gz = tmp_path / "digits-idx3-ubyte"  # gzip without .gz
    gz.write_bytes(gzip.compress(idx_bytes(2)))
    assert len(read_images([plain], (28, 28, 1))[0]) == 3 and len(read_images([gz], (28, 28, 1))[0]) == 2
    liar = tmp_path / "t10k-images-idx3-ubyte"
    liar.write_bytes(b"not idx at all" * 10)
    with pytest.raises(InputError):
        read_images([liar], (28, 28, 1))
    reliability(
        "wrong figures: files named -ubyte that are not IDX, IDX without the name",
        "read by their content",
    )


@pytest.mark.parametrize(
    "value",
    [
        [np.zeros((28, 28, 1)), np.zeros((27, 28, 1))],
        [[0.0] * 784, [0.0] * 783],
        [[[0.5]] * 28] * 27 + [[0.5]],
        [np.zeros(2), "x"],
        {"a": 1},
        np.array([None, None]),
    ],
)
def test_ragged_api_inputs_are_input_errors(bundle, value, reliability):
    generator = runtime.load(bundle)
    for call in (
        generator.encode,
        generator.reconstruct,
        generator.decode,
        lambda v: generator.interpolate(v, v),
    ):
        with pytest.raises(InputError):
            call(value)
    reliability(
        "bad input: ragged or mixed arrays to encode, reconstruct, decode, interpolate",
        "InputError",
    )
