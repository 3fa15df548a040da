"""`vaedge explain`, `vaedge clusters` and `vaedge manifold` on a real bundle: PNGs of the expected
layout whose panels hold what they say, and bad input in one line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from vaedge import runtime
from vaedge.cli import app
from vaedge.explain import drawing
from vaedge.explain.figures import MAP_PX, explain_figure
from vaedge.explain.held_out import read_held_out
from vaedge.explain.posterior import map_latents, posterior, to_map

runner = CliRunner()


@pytest.fixture(scope="module")
def generator(bundle):
    return runtime.load(bundle)


def test_posterior_samples_use_the_eps_stream_and_ellipses_are_sigma():
    post = posterior(np.array([0.5, -1.0]), np.array([-2.0, 0.0]), 4, seed=9)
    from vaedge.runtime.sampling import portable_eps

    np.testing.assert_array_equal(post.eps, portable_eps(4, 2, 9))
    np.testing.assert_allclose(post.z, post.z_mean + np.exp([-1.0, 0.0]) * post.eps, rtol=1e-6)
    _, radii = post.ellipse((0, 1), 2)
    np.testing.assert_allclose(radii, 2 * np.exp([-1.0, 0.0]), rtol=1e-6)
    assert not post.far_from_prior() and posterior(np.array([4.5, 0]), np.zeros(2), 1, 0).far_from_prior()


def test_map_latents_run_like_the_axes():
    z = map_latents(2, 4, (0, 1))
    assert z[0].tolist() == [-2.25, 2.25] and z[3].tolist() == [2.25, 2.25] and z[-1].tolist() == [2.25, -2.25]
    np.testing.assert_allclose(to_map(z[[0, -1]], (0, 1), 400), [[50, 50], [350, 350]])


def test_explain_figure_layout_and_panels(generator, fashion_mnist_dir):
    image = (read_held_out(fashion_mnist_dir, generator.image_shape, 1).images[0] / 255.0).astype(np.float32)
    z_mean, z_log_var = generator.encode(image[None])
    span = float(np.ceil(np.abs(z_mean[0]).max())) + 1  # z_mean inside the map wherever the model puts it
    figure, post = explain_figure(generator, image, samples=6, seed=3, span=span)
    assert figure.span == span
    panels = figure.panels
    assert list(panels) == ["input", "heads", "map", "decodes", "reconstruction"]
    lefts = [box[0] for box in panels.values()]
    assert lefts == sorted(lefts) and figure.picture.size[0] == panels["reconstruction"][2] + 16
    left, top, right, bottom = panels["map"]
    assert right - left == MAP_PX == bottom - top
    shown = np.asarray(figure.picture.crop(panels["input"]).convert("L"), np.float32)
    expected = np.kron(image[..., 0] * 255, np.ones((4, 4)))
    assert np.abs(shown - expected).max() <= 1
    mean_xy = to_map(post.z_mean[None], (0, 1), MAP_PX, span)[0] + [left, top]
    assert figure.picture.getpixel(tuple(int(v) for v in mean_xy)) == (255, 59, 48)  # z_mean's red dot
    np.testing.assert_allclose(post.z_mean, z_mean[0], atol=1e-6)
    np.testing.assert_allclose(post.sigma, np.exp(0.5 * z_log_var[0]), rtol=1e-6)


def test_cli_explain_writes_the_figure(bundle, fashion_mnist_dir, tmp_path):
    out = tmp_path / "explain.png"
    result = runner.invoke(app, ["explain", str(bundle), str(fashion_mnist_dir), "--index", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{out}: z_mean [")
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size == (1312, 540)
    light = tmp_path / "light.png"
    pixels = read_held_out(fashion_mnist_dir, (28, 28, 1), 3).images[2, ..., 0]
    Image.fromarray(255 - pixels).save(light)
    inverted = runner.invoke(app, ["explain", str(bundle), str(light), "--out", str(tmp_path / "e.jpg")])
    assert inverted.exit_code == 0 and "(input inverted: light background)" in inverted.output
    # an inverted light-background copy encodes like the original: auto polarity undid the inversion
    assert result.output.split(": ", 1)[1].split("]")[0] == inverted.output.split(": ", 1)[1].split("]")[0]
    with Image.open(tmp_path / "e.jpg") as jpg:
        assert jpg.format == "JPEG"


def test_cli_clusters_and_manifold(bundle, fashion_mnist_dir, tmp_path):
    out = tmp_path / "clusters.png"
    result = runner.invoke(
        app, ["clusters", str(bundle), "--data", str(fashion_mnist_dir), "--limit", "200", "--out", str(out)]
    )
    assert result.exit_code == 0 and "z_mean of 200 held-out images" in result.output, result.output
    with Image.open(out) as png:
        assert png.size == (16 * 3 + drawing.AXIS_LEFT + MAP_PX + 190, 44 + MAP_PX + drawing.AXIS_BOTTOM + 16)
        legend = np.asarray(png.convert("RGB"))[44 : 44 + 200, 16 * 2 + drawing.AXIS_LEFT + MAP_PX :]
    for colour in drawing.COLOURS:  # ten classes in the first 200 test images: ten legend swatches
        rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert (legend == rgb).all(axis=-1).sum() >= 100, colour
    result = runner.invoke(app, ["manifold", str(bundle), "--size", "10", "--out", str(tmp_path / "m.png")])
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "m.png") as png:
        assert png.size == (2 * 16 + drawing.AXIS_LEFT + 280, 2 * 16 + 280 + drawing.AXIS_BOTTOM)


@pytest.mark.parametrize(
    "args, message",
    [
        (["explain", "{bundle}", "{tmp}/missing.png", "--out", "{tmp}/e.png"], "no such file"),
        (["explain", "{bundle}", "{tmp}/notes.txt", "--out", "{tmp}/e.png"], "notes.txt"),
        (["explain", "{bundle}", "{data}", "--out", "{tmp}/e.gif"], "cannot write"),
        (["explain", "{bundle}", "{data}", "--index", "20000", "--out", "{tmp}/e.png"], "past the end"),
        (["explain", "{bundle}", "{data}", "--samples", "0", "--out", "{tmp}/e.png"], "samples must be"),
        (["explain", "{bundle}", "{data}", "--polarity", "up", "--out", "{tmp}/e.png"], "--polarity"),
        (["explain", "{bundle}", "{data}", "--seed", "-1", "--out", "{tmp}/e.png"], "seed must be"),
        (["clusters", "{bundle}", "--data", "{tmp}/notes.txt", "--out", "{tmp}/c.png"], "notes.txt"),
        (["clusters", "{bundle}", "--data", "{data}", "--out", "{tmp}/d.png", "--limit", "0"], "--limit must be"),
        (["manifold", "{bundle}", "--size", "1", "--out", "{tmp}/m.png"], "cells must be"),
        (["explain", "{bundle}", "{data}", "--range", "-1", "--out", "{tmp}/e.png"], "--range must be"),
        (["clusters", "{bundle}", "--data", "{data}", "--range", "nan", "--out", "{tmp}/c.png"], "--range must be"),
    ],
)
def test_bad_input_is_one_line(bundle, fashion_mnist_dir, tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("not an image")
    args = [a.format(bundle=bundle, tmp=tmp_path, data=fashion_mnist_dir) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and result.output.startswith("error: ") and result.output.count("\n") == 1, (
        result.output
    )
    assert message in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_wide_latent_maps_the_dims_the_page_maps(tmp_path, fashion_mnist_dir):
    from tests.web.wide_bundle import ORDER, make_wide_bundle
    from vaedge.explain.outputs import held_out_z_mean
    from vaedge.explain.posterior import map_dims

    bundle = make_wide_bundle(tmp_path / "wide")
    assert map_dims(4, held_out_z_mean(runtime.load(bundle))) == tuple(ORDER[:2])  # parity.npz, as the page
    for command in (
        ["manifold", str(bundle), "--size", "6", "--out", str(tmp_path / "m.png")],
        ["explain", str(bundle), str(fashion_mnist_dir), "--out", str(tmp_path / "e.png")],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
