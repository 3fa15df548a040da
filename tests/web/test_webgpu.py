"""onnxruntime-web's WebGPU execution provider in Debian's headless Chromium (SwiftShader's Vulkan when there
is no GPU): the bundle's decoder must match the WebAssembly one. Correctness only: speed under SwiftShader
means nothing. The page does not ship the WebGPU build (26.8 MB more wasm; docs/benchmarks.md)."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest

from vaedge.web.browser import ARGS
from vaedge.web.serve import make_server

WEBGPU_FILES = ("ort.webgpu.min.js", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")
PAGE = """<!doctype html><meta charset="utf-8"><script src="ort.webgpu.min.js"></script><script>
window.adapter = async () => {
  const adapter = navigator.gpu && await navigator.gpu.requestAdapter();
  return adapter ? adapter.info.vendor : null;
};
window.decode = async ([ep, z]) => {  // one execution provider, no fallback: a failure is an error
  ort.env.wasm.wasmPaths = new URL("./", location.href).href;
  const bytes = new Uint8Array(await (await fetch("decoder.onnx")).arrayBuffer());
  const session = await ort.InferenceSession.create(bytes, {executionProviders: [ep]});
  const out = await session.run({z: new ort.Tensor("float32", new Float32Array(z.flat()), [z.length, z[0].length])});
  return Array.from(out.image.data);
};
</script>"""


@pytest.fixture(scope="module")
def webgpu_site(tmp_path_factory, bundle, ort_dist):
    missing = [name for name in WEBGPU_FILES if not (ort_dist / name).is_file()]
    if missing:
        pytest.skip(f"{ort_dist} lacks the WebGPU build: {', '.join(missing)}")
    root = tmp_path_factory.mktemp("webgpu")
    for name in WEBGPU_FILES:
        shutil.copyfile(ort_dist / name, root / name)
    shutil.copyfile(bundle / "decoder.onnx", root / "decoder.onnx")
    (root / "index.html").write_text(PAGE)
    server = make_server(root, 0)  # COOP/COEP as `vaedge web --serve` sends them
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_webgpu_decoder_matches_wasm(chromium, playwright_session, webgpu_site, bundle):
    args = [a for a in ARGS if a != "--disable-gpu"] + ["--enable-unsafe-webgpu"]
    z = np.random.default_rng(0).standard_normal((64, 2)).astype(np.float32)
    browser = playwright_session.chromium.launch(executable_path=str(chromium), args=args, headless=True)
    try:
        page = browser.new_page()
        page.goto(webgpu_site)
        if page.evaluate("window.adapter()") is None:
            pytest.skip("this Chromium offers no WebGPU adapter (not even SwiftShader)")
        for batch in (z[:1], z):
            webgpu = np.asarray(page.evaluate("window.decode", ["webgpu", batch.tolist()]), np.float32)
            wasm = np.asarray(page.evaluate("window.decode", ["wasm", batch.tolist()]), np.float32)
            assert webgpu.shape == wasm.shape == (len(batch) * 28 * 28,)
            assert np.abs(webgpu - wasm).max() <= 1e-4
    finally:
        browser.close()
