"""A latent space wider than 2 in the page: sliders ranked by how much the held-out images use each
dim, and the latent map over the two most used ones, in a real headless Chromium."""

from __future__ import annotations

import io
import json
import subprocess

import numpy as np
import onnxruntime
import pytest
from PIL import Image

from tests.web.conftest import VAEDGE, open_page, start_server
from tests.web.test_browser import DECODE_JS, ENCODE_JS, REJECTED_JS
from tests.web.wide_bundle import LATENT, ORDER, make_wide_bundle
from vaedge.errors import InputError
from vaedge.web.site import MARKER, build_site

SET_SLIDER_JS = """([dim, value]) => {
  const input = document.querySelector(`#sliders input[data-dim="${dim}"]`);
  input.value = value;
  input.dispatchEvent(new Event("input"));
  input.dispatchEvent(new Event("change"));
}"""
DRAWS_JS = "(() => Number(document.getElementById('map').dataset.draws || 0))"
SLIDERS_JS = (
    "() => Array.from(document.querySelectorAll('#sliders input'), (i) => [Number(i.dataset.dim), Number(i.value)])"
)


def session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def wide_bundle(tmp_path_factory):
    return make_wide_bundle(tmp_path_factory.mktemp("wide") / "bundle")


@pytest.fixture(scope="module")
def wide_site(wide_bundle, ort_dist, tmp_path_factory):
    out = tmp_path_factory.mktemp("wide-site") / "site"
    done = subprocess.run(
        [*VAEDGE, "web", str(wide_bundle), "--out", str(out), "--ort-web", str(ort_dist)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def wide_page(browser, wide_site):
    server, url = start_server(wide_site)
    loaded = open_page(browser, url)
    yield loaded
    loaded.page.close()
    server.terminate()
    server.wait(timeout=10)


def test_marker_ranks_dims_by_held_out_z_mean_variance(wide_bundle, tmp_path):
    site = build_site(wide_bundle, tmp_path / "site")
    latents = json.loads((site / MARKER).read_text())["latents"]
    z_mean = np.load(wide_bundle / "parity.npz")["z_mean"]
    assert latents["order"] == ORDER and latents["images"] == len(z_mean)
    np.testing.assert_allclose(latents["z_mean_variance"], z_mean.var(axis=0), rtol=1e-4)


def test_reference_with_wrong_z_mean_is_refused(wide_bundle, tmp_path):
    from vaedge.runtime.manifest import MANIFEST, build_manifest, file_entry

    copy = tmp_path / "bundle"
    copy.mkdir()
    for name in ("encoder.onnx", "decoder.onnx"):
        (copy / name).write_bytes((wide_bundle / name).read_bytes())
    buffer = io.BytesIO()
    np.savez(buffer, z_mean=np.zeros((8, 3), np.float32))
    (copy / "parity.npz").write_bytes(buffer.getvalue())
    raw = json.loads((wide_bundle / MANIFEST).read_text())
    files = [
        f if f["role"] != "parity" else file_entry(copy, "parity.npz", role="parity", format="npz", precision="fp32")
        for f in raw["files"]
    ]
    (copy / MANIFEST).write_text(json.dumps(build_manifest(raw["image"]["shape"], LATENT, files)))
    with pytest.raises(InputError, match=r"parity\.npz: z_mean is shape \(8, 3\), expected finite \(N >= 2, 4\)"):
        build_site(copy, tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_sliders_follow_the_ranking_and_the_map_spans_the_top_two(wide_page):
    page = wide_page.page
    assert wide_page.errors() == [] and page.is_hidden("#error")
    assert page.evaluate(SLIDERS_JS) == [[dim, 0] for dim in ORDER]
    assert f"z[{ORDER[0]}] (across) and z[{ORDER[1]}] (up)" in page.text_content("#latent-help")
    for selector in ("#map", "#preview", "#grid"):
        pixels = np.asarray(Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("L"), np.float32)
        assert pixels.std() > 5 and len(np.unique(pixels)) >= 4, f"{selector} looks blank"


def test_pointer_moves_the_top_two_dims_and_a_slider_redraws_the_map(wide_page):
    page = wide_page.page
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + 0.9 * box["height"])
    page.wait_for_function(f"Number(document.querySelector('#sliders input[data-dim=\"{ORDER[0]}\"]').value) > 2")
    values = dict(page.evaluate(SLIDERS_JS))
    assert values[ORDER[0]] > 2 and values[ORDER[1]] < -2 and values[ORDER[2]] == values[ORDER[3]] == 0
    before, draws = page.locator("#map").screenshot(), page.evaluate(DRAWS_JS)
    page.evaluate(SET_SLIDER_JS, [ORDER[2], 2.5])  # a dim off the map: the map shows its new slice
    page.wait_for_function(f"{DRAWS_JS}() > {draws}")
    assert "2.50" in page.text_content("#point")
    assert page.locator("#map").screenshot() != before
    assert wide_page.errors() == [] and page.is_hidden("#error")


def test_decode_and_encode_match_onnxruntime_with_four_dims(wide_page, wide_site):
    page, rng = wide_page.page, np.random.default_rng(1)
    z = rng.standard_normal((16, LATENT)).astype(np.float32)
    expected = session(wide_site / "decoder.onnx").run(["image"], {"z": z})[0]
    result = page.evaluate(DECODE_JS, z.tolist())
    assert result["shape"] == [16, 28, 28, 1]
    assert np.abs(np.asarray(result["data"], np.float32).reshape(expected.shape) - expected).max() <= 1e-5
    images = rng.random((4, 28, 28, 1), dtype=np.float32)
    z_mean, z_log_var = session(wide_site / "encoder.onnx").run(None, {"image": images})
    encoded = page.evaluate(ENCODE_JS, [list(images.shape), images.ravel().tolist()])
    assert np.abs(np.asarray(encoded["z_mean"]) - z_mean).max() <= 1e-4
    assert np.abs(np.asarray(encoded["z_log_var"]) - z_log_var).max() <= 1e-4
    outcome = page.evaluate(REJECTED_JS, ["decode", [[0.5, -1.0]]])
    assert outcome.startswith("rejected: ") and "z[0] has 2 numbers, expected 4" in outcome


def test_explain_uses_the_top_two_dims_and_warns_far_from_the_prior(wide_page, wide_bundle, wide_site):
    """The site keeps parity.npz's images as uint8 (unlabelled); the random encoder puts some z_mean far
    outside N(0, I)."""
    page = wide_page.page
    page.wait_for_function("document.body.dataset.explained !== undefined")
    kept = (np.rint(np.load(wide_bundle / "parity.npz")["images"] * 255) / 255).astype(np.float32)
    z_mean = session(wide_site / "encoder.onnx").run(["z_mean"], {"image": kept})[0]
    far = np.abs(z_mean).max(axis=1) > 4
    assert far.any() and not far.all()
    for example in (int(np.argmax(far)), int(np.argmin(far))):
        result = page.evaluate("async (i) => window.vaedge.explain({example: i}, {samples: 3, seed: 1})", example)
        assert result["dims"] == ORDER[:2] and result["far"] is bool(far[example])
        assert np.abs(np.asarray(result["z_mean"]) - z_mean[example]).max() <= 1e-4
        assert page.is_visible("#far") is bool(far[example])
    clusters = page.evaluate("window.vaedge.clusters()")
    assert len(clusters["points"]) == len(z_mean) and {p["name"] for p in clusters["points"]} == {"unlabelled"}
    assert "unlabelled" in page.text_content("#legend") and wide_page.errors() == []
