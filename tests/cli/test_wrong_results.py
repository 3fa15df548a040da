"""Commands do what the user named, or refuse in one line: interpolation ends, output formats, --data paths."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.cli.terminal import in_pipes
from tests.vaedge_command import command


@pytest.fixture
def white_png(tmp_path):
    path = tmp_path / "white.png"
    Image.new("L", (28, 28), 255).save(path)
    return path


def test_interpolate_goes_between_the_two_images_named(bundle, fashion_mnist_dir, white_png, tmp_path):
    from vaedge.io.images import grid, png_bytes, read_images
    from vaedge.runtime import load

    idx = fashion_mnist_dir / "t10k-images-idx3-ubyte.gz"
    result = in_pipes(command("interpolate", bundle, idx, white_png, "--steps", "5", "--out", tmp_path / "s.png"))
    assert result.returncode == 0, result.stderr
    assert "to white.png" in result.stdout
    generator = load(bundle)
    first = read_images([idx], generator.image_shape, limit=1)[0][0]
    white = np.full(generator.image_shape, 255, np.uint8)
    expected = png_bytes(grid(generator.interpolate(first, white, 5), columns=5), scale=2)
    with Image.open(tmp_path / "s.png") as got, Image.open(io.BytesIO(expected)) as want:
        assert np.array_equal(np.asarray(got), np.asarray(want))
    # the old behaviour, test images 0 and 1, is something else
    second = read_images([idx], generator.image_shape, limit=2)[0][1]
    wrong = png_bytes(grid(generator.interpolate(first, second, 5), columns=5), scale=2)
    with Image.open(tmp_path / "s.png") as got, Image.open(io.BytesIO(wrong)) as old:
        assert not np.array_equal(np.asarray(got), np.asarray(old))


@pytest.mark.parametrize(
    "line",
    [["generate", "--n", "4", "--seed", "0"], ["manifold", "--size", "3"], ["reconstruct", "examples/sneaker.png"]],
)
def test_jpg_out_writes_jpeg(bundle, line, tmp_path):
    from tests.cli.terminal import ROOT

    out = tmp_path / "x.jpg"
    result = in_pipes(command(line[0], bundle, *line[1:], "--out", out), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG, not PNG data under a .jpg name
    with Image.open(out) as image:
        assert image.format == "JPEG"


@pytest.mark.parametrize("suffix", [".gif", ".tiff", ""])
def test_unknown_out_suffix_is_refused_before_any_work(bundle, suffix, tmp_path):
    out = tmp_path / f"x{suffix}"
    result = in_pipes(command("generate", bundle, "--n", "4", "--out", out))
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert ".png or .jpg" in result.stderr
    assert not out.exists()


def test_interpolate_refuses_a_gif_out(bundle, white_png, tmp_path):
    result = in_pipes(command("interpolate", bundle, white_png, white_png, "--out", tmp_path / "s.gif"))
    assert result.returncode == 1 and "name it .png or .jpg" in result.stderr
    assert not (tmp_path / "s.gif").exists()


@pytest.fixture
def no_tensorflow(tmp_path):
    """A PYTHONPATH under which importing TensorFlow fails loudly: what a command reports came first."""
    fake = tmp_path / "fake"
    (fake / "tensorflow").mkdir(parents=True)
    (fake / "tensorflow" / "__init__.py").write_text("raise RuntimeError('TensorFlow was imported')\n")
    return {"PYTHONPATH": str(fake)}


@pytest.mark.parametrize(
    "line",
    [
        ["train", "--out", "r", "--epochs", "1"],
        ["export", "RUN", "--out", "b"],
        ["validate", "BUNDLE", "--keras", "RUN"],
    ],
)
def test_bad_data_path_is_reported_before_tensorflow(line, bundle, trained_run, no_tensorflow, tmp_path):
    args = [str(trained_run) if a == "RUN" else str(bundle) if a == "BUNDLE" else a for a in line]
    result = in_pipes(command(*args, "--data", tmp_path / "nowhere"), cwd=tmp_path, **no_tensorflow)
    assert result.returncode == 1, result.stderr
    assert "nowhere: no such file or directory" in result.stderr and "TensorFlow was imported" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_data_one_folder_up_names_the_folder_below(fashion_mnist_dir, no_tensorflow, tmp_path):
    parent = tmp_path / "data"
    parent.mkdir()
    (parent / "fashion-mnist").symlink_to(fashion_mnist_dir)
    result = in_pipes(command("train", "--out", "r", "--data", parent), cwd=tmp_path, **no_tensorflow)
    assert result.returncode == 1
    assert f"pass --data {parent / 'fashion-mnist'}" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_evaluate_data_one_folder_up_names_the_folder_below(bundle, fashion_mnist_dir, tmp_path):
    parent = tmp_path / "data"
    parent.mkdir()
    (parent / "fashion-mnist").symlink_to(fashion_mnist_dir)
    result = in_pipes(command("evaluate", bundle, "--data", parent, "--limit", "2", "--k", "1"))
    assert result.returncode == 1 and f"pass {parent / 'fashion-mnist'}" in result.stderr
