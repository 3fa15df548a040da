"""`vaedge web` in a real headless Chromium: the page's JavaScript API against onnxruntime in Python."""

from __future__ import annotations

import io
import re
import urllib.request
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from PIL import Image

from tests.web.conftest import open_page
from vaedge.io.idx import read_idx_directory
from vaedge.web import ort

DECODE_JS = (
    "async (z) => { const r = await window.vaedge.decode(z); return {shape: r.shape, data: Array.from(r.data)}; }"
)
ENCODE_JS = "async ([shape, data]) => window.vaedge.encode({shape, data})"
REJECTED_JS = (
    "async ([call, arg]) => window.vaedge[call](arg).then(() => 'resolved', (error) => 'rejected: ' + error.message)"
)


@pytest.fixture(scope="session")
def held_out(fashion_mnist_dir) -> np.ndarray:
    """64 Fashion-MNIST test images, (64, 28, 28, 1) float32 in [0, 1]."""
    test = read_idx_directory(Path(fashion_mnist_dir), splits=("test",))["x_test"]
    return (test[:64, :, :, None] / np.float32(255)).astype(np.float32)


def session(site: Path, name: str) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(site / name), providers=["CPUExecutionProvider"])


def test_page_loads_without_console_errors(loaded):
    page = loaded.page
    assert loaded.errors() == []
    assert page.is_hidden("#error")
    assert "loaded" in page.text_content("#status")
    assert page.evaluate("crossOriginIsolated")  # the COOP/COEP headers took effect
    assert re.search(r"\d+ images/s", page.text_content("#speed"))


def test_the_page_uses_every_core_when_isolated(loaded):
    runtime = loaded.page.evaluate("window.vaedge.runtime")
    cores = loaded.page.evaluate("navigator.hardwareConcurrency")
    assert runtime["isolated"] is True and runtime["executionProvider"] == "wasm" and runtime["cores"] == cores
    if cores < 2:
        pytest.skip("one logical core: nothing to thread")
    assert runtime["threads"] == min(16, cores) > 1  # read back from onnxruntime-web after the sessions started
    assert f"threads {runtime['threads']}" in loaded.page.text_content("#status")


def test_without_isolation_the_page_says_single_thread(browser, site):
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Plain(SimpleHTTPRequestHandler):  # no COOP/COEP: no SharedArrayBuffer, so no threads
        extensions_map = {
            **SimpleHTTPRequestHandler.extensions_map,
            ".mjs": "text/javascript",
            ".wasm": "application/wasm",
        }

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Plain, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page = open_page(browser, f"http://127.0.0.1:{server.server_address[1]}/")
        runtime = page.page.evaluate("window.vaedge.runtime")
        assert runtime["isolated"] is False and runtime["threads"] == 1
        assert "single thread (not cross-origin isolated)" in page.page.text_content("#status")
        assert page.page.evaluate(DECODE_JS, [[0.0, 0.0]])["shape"] == [1, 28, 28, 1]
        page.page.close()
    finally:
        server.shutdown()


def test_decode_matches_onnxruntime_on_held_out_latents(loaded, site, held_out):
    z_mean, _ = session(site, "encoder.onnx").run(["z_mean", "z_log_var"], {"image": held_out})
    expected = session(site, "decoder.onnx").run(["image"], {"z": z_mean})[0]
    for batch in (z_mean[:1], z_mean):
        result = loaded.page.evaluate(DECODE_JS, batch.tolist())
        assert result["shape"] == list(expected[: len(batch)].shape)
        actual = np.asarray(result["data"], np.float32).reshape(result["shape"])
        assert np.abs(actual - expected[: len(batch)]).max() <= 1e-5


def test_encode_matches_onnxruntime(loaded, site, held_out):
    z_mean, z_log_var = session(site, "encoder.onnx").run(["z_mean", "z_log_var"], {"image": held_out})
    result = loaded.page.evaluate(ENCODE_JS, [list(held_out.shape), held_out.ravel().tolist()])
    assert np.abs(np.asarray(result["z_mean"]) - z_mean).max() <= 1e-4
    assert np.abs(np.asarray(result["z_log_var"]) - z_log_var).max() <= 1e-4


@pytest.mark.parametrize(
    "call, arg, message",
    [
        ("decode", [[0.5]], "z[0] has 1 numbers, expected 2"),
        ("decode", [], "expected an array of 1.."),
        ("decode", "z", "expected an array of 1.."),
        ("decode", [[0, None], [1e9, 0]], "z[0][1] is null"),
        ("encode", {"shape": [1, 28, 28], "data": [0] * 784}, "images.shape is [1,28,28]"),
        ("encode", {"shape": [1, 28, 28, 1], "data": [0] * 10}, "images.data has 10 numbers, expected 784"),
        ("encode", {"shape": [1, 28, 28, 1], "data": [2] * 784}, "expected a number in [0, 1]"),
    ],
)
def test_bad_input_rejects_the_promise(loaded, call, arg, message):
    outcome = loaded.page.evaluate(REJECTED_JS, [call, arg])
    assert outcome.startswith("rejected: ") and message in outcome


def test_latent_map_and_sample_grid_render(loaded):
    page = loaded.page
    for selector in ("#grid", "#map", "#lerp", "#preview"):
        pixels = np.asarray(Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("L"), np.float32)
        # decoded tiles (grey levels) between black padding, whatever the model learned
        assert pixels.std() > 5 and (pixels > 20).mean() > 0.3 and len(np.unique(pixels)) >= 4, (
            f"{selector} looks blank"
        )
    before = page.locator("#preview").screenshot()
    page.locator("#map").scroll_into_view_if_needed()
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + 0.1 * box["width"], box["y"] + 0.1 * box["height"])
    # 10% across a map from -span to span: z[0] = -0.8 span, whatever span the bundle's latent_map says
    page.wait_for_function(
        """() => {
            const span = Number(document.getElementById('map').dataset.span);
            const z0 = parseFloat(document.getElementById('point').textContent.replace('z = [', ''));
            return span > 0 && Math.abs(z0 + 0.8 * span) < 0.15;
        }"""
    )
    assert page.locator("#preview").screenshot() != before  # moving the pointer decoded a new image


def test_dropped_image_is_reconstructed_and_bad_files_are_shown(loaded, tmp_path, held_out):
    page = loaded.page
    png = tmp_path / "shirt.png"
    Image.fromarray(np.round(held_out[0, :, :, 0] * 255).astype(np.uint8)).save(png)
    page.uncheck("#invert")
    page.set_input_files("#file", str(png))
    page.wait_for_function("document.getElementById('encoded').textContent.includes('z_mean = [')")
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    page.set_input_files("#file", str(text))
    page.wait_for_selector("#error:not([hidden])")
    assert "notes.txt: not an image" in page.text_content("#error")
    page.evaluate("document.getElementById('error').hidden = true")


def test_offline_site_fetches_and_names_nothing_outside(loaded, site):
    assert all(url.startswith(loaded.page.url) for url in loaded.requests), loaded.requests
    own = [p for p in site.rglob("*") if p.is_file() and p.parent == site]
    assert {p.name for p in own} >= {"index.html", "vaedge.js", "app.js", "style.css", "vaedge-site.json"}
    for path in own:
        if path.suffix != ".onnx":
            assert not re.search(rb"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", path.read_bytes()), path
    # onnxruntime-web's own files name documentation pages in its messages, never a file it loads
    docs = {b"web.dev", b"arxiv.org", b"docs.nvidia.com", b"github.com", b"ieeexplore.ieee.org", b"tinyurl.com"}
    for name in ort.FILES:
        hosts = set(re.findall(rb"https?://([a-z0-9.-]+)", (site / "ort" / name).read_bytes()))
        assert hosts <= docs, (name, hosts - docs)


def test_serve_prints_url_and_sends_isolation_headers(served):
    for name, kind in (
        ("", "text/html"),
        ("ort/ort-wasm-simd-threaded.wasm", "application/wasm"),
        ("ort/ort-wasm-simd-threaded.mjs", "text/javascript"),
        ("app.js", "text/javascript"),
    ):
        with urllib.request.urlopen(served + name, timeout=10) as response:
            assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert response.headers["Content-Type"].startswith(kind), (name, response.headers["Content-Type"])


def test_cdn_site_checks_integrity(browser, bundle, ort_dist, tmp_path):
    """Without --ort-web the page takes onnxruntime-web from the CDN; here the CDN is answered from the
    npm files (this machine has no other network), and a changed byte must stop the page."""
    from tests.web.conftest import start_server
    from vaedge.web.site import build_site

    site = build_site(bundle, tmp_path / "cdn-site")
    assert not (site / "ort").exists() and ort.SRI[ort.SCRIPT] in (site / "index.html").read_text()
    server, url = start_server(site)
    try:
        for tamper in (False, True):
            context = browser.new_context()
            context.route(ort.CDN + "*", lambda route: _from_npm(route, ort_dist, tamper))
            loaded_page = open_page(context, url)
            if tamper:
                assert "integrity" in loaded_page.page.text_content("#error").lower()
            else:
                assert loaded_page.errors() == [] and loaded_page.page.is_hidden("#error")
                assert loaded_page.page.evaluate(DECODE_JS, [[0.0, 0.0]])["shape"] == [1, 28, 28, 1]
            context.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def _from_npm(route, dist: Path, tamper: bool):
    name = route.request.url.rsplit("/", 1)[-1]
    body = (dist / name).read_bytes()
    if tamper and name == ort.MODULE:
        body = body.replace(b"function", b"function ", 1)
    kind = {".wasm": "application/wasm"}.get(Path(name).suffix, "text/javascript")
    route.fulfill(
        status=200,
        body=body,
        headers={
            "Content-Type": kind,
            "Access-Control-Allow-Origin": "*",
            "Cross-Origin-Resource-Policy": "cross-origin",
        },
    )
