"""The page's "What the encoder says about this image" and class clusters, in a real headless Chromium,
against the runtime in Python on the same bundle: the same z_mean and z_log_var, ellipses of sigma and
2 sigma, the same eps for a seed as `vaedge generate`, and dropped images of either polarity."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.web.conftest import HELD_OUT, LOAD_TIMEOUT_MS, REPO, VAEDGE
from vaedge import runtime
from vaedge.explain.posterior import posterior
from vaedge.io.idx import read_idx_directory

EXPLAIN_JS = "async ([input, options]) => window.vaedge.explain(input, options)"
MAP, LEFT, PAD = 420, 46, 10  # explain.js: the map's side and where it starts on its canvas


@pytest.fixture(scope="module")
def page(loaded):
    loaded.page.wait_for_function("document.body.dataset.explained !== undefined", timeout=LOAD_TIMEOUT_MS)
    assert loaded.page.evaluate("document.body.dataset.explained") == "true", loaded.page.text_content("#error")
    return loaded.page


@pytest.fixture(scope="module")
def generator(bundle):
    return runtime.load(bundle)


@pytest.fixture(scope="module")
def test_split(fashion_mnist_dir):
    split = read_idx_directory(Path(fashion_mnist_dir), splits=("test",))
    return split["x_test"][:HELD_OUT, :, :, None], split["y_test"][:HELD_OUT]


@pytest.mark.parametrize("example", [0, 7, 42])
def test_heads_equal_python_encode_and_ellipses_are_sigma(page, generator, test_split, example):
    result = page.evaluate(EXPLAIN_JS, [{"example": example}, {"samples": 8, "seed": 3}])
    z_mean, z_log_var = generator.encode(test_split[0][example : example + 1])
    assert np.abs(np.asarray(result["z_mean"]) - z_mean[0]).max() <= 1e-5
    assert np.abs(np.asarray(result["z_log_var"]) - z_log_var[0]).max() <= 1e-5
    sigma = np.exp(0.5 * z_log_var[0])
    np.testing.assert_allclose(result["sigma"], sigma, rtol=1e-5)
    one, two = result["ellipses"]
    assert (one["k"], two["k"]) == (1, 2)
    for ellipse, k in ((one, 1), (two, 2)):  # read back from the drawn ellipse, in map units (z)
        np.testing.assert_allclose(ellipse["radii"], k * sigma, rtol=1e-5)
        np.testing.assert_allclose(ellipse["centre"], z_mean[0], atol=1e-5)
        np.testing.assert_allclose(ellipse["pixels"]["radii"], k * sigma * MAP / (2 * result["span"]), rtol=1e-5)
    assert page.text_content("#heads").count("Dense layer") == 2 and "mu" in page.text_content("#heads")
    assert result["name"].startswith(f"held-out image {example} (") and page.is_hidden("#far")


def test_sampled_dots_decode_like_python(page, generator):
    result = page.evaluate(EXPLAIN_JS, [{"example": 3}, {"samples": 6, "seed": 11}])
    expected = posterior(np.asarray(result["z_mean"]), np.asarray(result["z_log_var"]), 6, seed=11)
    np.testing.assert_allclose(result["eps"], expected.eps, atol=1e-6)
    z = np.asarray(result["z"], np.float32)
    assert np.abs(z - expected.z).max() <= 1e-5
    np.testing.assert_allclose(result["points"], z[:, :2], atol=1e-5)  # the dots, read back from their pixels
    decoded = np.asarray(result["decoded"], np.float32).reshape(6, 28, 28, 1)
    assert np.abs(decoded - generator.decode(z)).max() <= 1e-5
    reconstruction = np.asarray(result["reconstruction"], np.float32).reshape(1, 28, 28, 1)
    assert np.abs(reconstruction - generator.decode(np.asarray([result["z_mean"]], np.float32))).max() <= 1e-5
    before = page.evaluate("window.vaedge.lastExplained.seed")
    page.click("#new-eps")
    page.wait_for_function(f"window.vaedge.lastExplained.seed === {before + 1}")


def test_seed_gives_the_same_eps_as_vaedge_generate(page, bundle, tmp_path):
    arrays = tmp_path / "g.npz"
    done = subprocess.run(
        [
            *VAEDGE,
            "generate",
            str(bundle),
            "--n",
            "16",
            "--seed",
            "5",
            "--out",
            str(tmp_path / "g.png"),
            "--npy",
            str(arrays),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    generated = np.load(arrays)
    page.fill("#seed", "5")
    page.fill("#count", "16")
    page.fill("#temperature", "1")
    page.click("#sample-form button[type=submit]")
    page.wait_for_function("window.vaedge.lastSample && window.vaedge.lastSample.seed === 5")
    eps = np.asarray(page.evaluate("window.vaedge.lastSample.eps"), np.float32)
    assert np.abs(eps - generated["eps"]).max() <= 1e-6
    images = page.evaluate("async (z) => Array.from((await window.vaedge.decode(z)).data)", eps.tolist())
    assert np.abs(np.asarray(images, np.float32).reshape(16, 28, 28, 1) - generated["images"]).max() <= 1e-5


def test_the_page_maps_the_range_the_cli_figures_use(page, generator, test_split):
    """One span for the page's latent map, its explain map and clusters, and vaedge manifold, clusters and
    explain: the bundle's. Every marker, for each held-out image the page keeps, is drawn inside the map."""
    from vaedge.explain.figures import clusters_figure, explain_figure, map_figure
    from vaedge.explain.held_out import FASHION_MNIST, HeldOut

    span = generator.manifest.map_span
    images, labels = test_split
    z_mean, _ = generator.encode(images)
    figures = (
        map_figure(generator, cells=4),
        clusters_figure(generator, HeldOut(images, labels, FASHION_MNIST, "test"), z_mean),
        explain_figure(generator, images[0] / np.float32(255))[0],
    )
    clusters = page.evaluate("window.vaedge.clusters()")
    page_map = float(page.evaluate("document.getElementById('map').dataset.span"))
    assert [f.span for f in figures] == [span] * 3 and clusters["span"] == page_map == span
    for example in range(HELD_OUT):
        result = page.evaluate(EXPLAIN_JS, [{"example": example}, {"samples": 2, "seed": 0}])
        assert result["span"] == span
        for drawn in (result["markers"]["mean"], *result["markers"]["samples"]):
            x, y = drawn["at"]
            assert LEFT <= x <= LEFT + MAP and PAD <= y <= PAD + MAP, (example, drawn)
        assert bool(result["notes"]) == any(
            m["beyond"] for m in (result["markers"]["mean"], *result["markers"]["samples"])
        )
    inside = [LEFT <= p["at"][0] <= LEFT + MAP and PAD <= p["at"][1] <= PAD + MAP for p in clusters["points"]]
    assert all(inside)


def test_cluster_scatter_has_one_point_per_held_out_image(page, generator, test_split):
    clusters = page.evaluate("window.vaedge.clusters()")
    points = clusters["points"]
    z_mean, _ = generator.encode(test_split[0])
    assert len(points) == HELD_OUT and clusters["dims"] == [0, 1]
    assert np.abs(np.asarray([p["z"] for p in points]) - z_mean).max() <= 1e-5
    assert [p["label"] for p in points] == test_split[1].tolist()
    assert points[0]["name"] == "Ankle boot"
    legend = page.text_content("#legend")
    assert "T-shirt/top" in legend and "Ankle boot" in legend


def test_dropped_dark_and_light_images_reconstruct_without_the_checkbox(page, generator, test_split, tmp_path):
    pixels = test_split[0][9, :, :, 0]
    z_mean, _ = generator.encode(test_split[0][9:10])
    expected = generator.decode(z_mean)
    for name, picture, inverted in (("dark.png", pixels, False), ("light.png", 255 - pixels, True)):
        Image.fromarray(picture).save(tmp_path / name)
        page.evaluate("window.vaedge.lastExplained = null")
        page.set_input_files("#file", str(tmp_path / name))
        page.wait_for_function("window.vaedge.lastExplained !== null")
        result = page.evaluate("window.vaedge.lastExplained")
        assert result["inverted"] is inverted and page.is_checked("#invert") is inverted and not result["far"]
        assert np.abs(np.asarray(result["z_mean"]) - z_mean[0]).max() <= 1e-5, name
        reconstruction = np.asarray(result["reconstruction"], np.float32).reshape(expected.shape)
        assert np.abs(reconstruction - expected).max() <= 1e-5, name


@pytest.mark.screenshots  # deselected by default: it writes into docs/ (docs/make_figures.sh selects it)
def test_screenshots_for_the_readme(page):
    """The README's screenshots, from this very page on the bundle VAEDGE_TEST_BUNDLE names (the Quick start's)."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.fill("#eps-seed", "0")  # as docs/explain.png: vaedge explain --seed 0 --samples 8
    page.fill("#eps-count", "8")
    page.click("#thumbs canvas[data-example='0']")
    page.wait_for_function("window.vaedge.lastExplained.name.startsWith('held-out image 0')")
    assert not page.is_checked("#invert")
    page.locator("#explain").screenshot(path=str(REPO / "docs" / "explain-page.png"))
    page.fill("#seed", "0")  # the page as it first loads, for the README's "In the browser"
    page.fill("#count", "64")
    page.click("#sample-form button[type=submit]")
    page.wait_for_function("window.vaedge.lastSample.eps.length === 64")
    page.evaluate("document.getElementById('speed').hidden = true")  # no speed figure from a loaded machine
    page.screenshot(path=str(REPO / "docs" / "web.png"), full_page=True)
    page.evaluate("document.getElementById('speed').hidden = false")
    page.set_viewport_size({"width": 1100, "height": 900})
