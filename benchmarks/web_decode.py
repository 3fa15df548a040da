"""Browser decode throughput: `vaedge web --ort-web` in Debian's headless Chromium, at batch 1 and 64.

Builds the offline site from BUNDLE, serves it on 127.0.0.1 with COOP/COEP, then times
`window.vaedge.decode` inside the page (after two warm-up calls), best of --rounds: once as the page
runs by default (threads on every core when isolated) and once with `?threads=1`. Optionally
saves a screenshot of the page (the README's docs/web.png), after dropping --drop IMAGE on it.

    .venv/bin/python benchmarks/web_decode.py BUNDLE --ort-web build/ort-web/node_modules/onnxruntime-web/dist \
        --screenshot docs/web.png --drop shirt.png
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

from vaedge.web.browser import DECODE_RATE_JS, find_chromium, launch
from vaedge.web.serve import make_server, url
from vaedge.web.site import build_site

REPEATS = {1: 400, 64: 40}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--ort-web", type=Path, required=True, help="dist/ of an onnxruntime-web npm install")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--drop", type=Path, help="an image to reconstruct on the page before the screenshot")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no system Chromium (apt install chromium)")
    with tempfile.TemporaryDirectory() as scratch:
        site = build_site(args.bundle, Path(scratch) / "site", ort_web=args.ort_web)
        server = make_server(site, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with sync_playwright() as playwright:
            browser = launch(playwright, chromium)
            modes = {}
            for mode, query in (("default", ""), ("single thread", "?threads=1")):  # same browser, same load
                page = browser.new_page()
                page.set_viewport_size({"width": 1100, "height": 900})
                page.goto(url(server) + query)
                page.wait_for_function("document.body.dataset.rendered === 'true'", timeout=120_000)
                rates = {
                    batch: max(page.evaluate(DECODE_RATE_JS, [batch, repeats]) for _ in range(args.rounds))
                    for batch, repeats in REPEATS.items()
                }
                modes[mode] = {
                    "page": page.text_content("#status"),
                    "img_per_s": {str(b): round(r) for b, r in rates.items()},
                }
                if mode == "default":
                    _screenshot(page, args)
                page.close()
            version = browser.version
            browser.close()
        server.shutdown()
    single = modes["single thread"]["img_per_s"]
    result = {
        "chromium": version,
        "modes": modes,
        "default_vs_single": {b: round(r / single[b], 2) for b, r in modes["default"]["img_per_s"].items()},
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


def _screenshot(page, args) -> None:
    if args.screenshot and args.drop:
        page.uncheck("#invert")  # Fashion-MNIST images are already light objects on black
        page.set_input_files("#file", str(args.drop))
        page.wait_for_function("document.getElementById('encoded').textContent.includes('z_mean = [')")
    if args.screenshot:
        page.locator("#map").scroll_into_view_if_needed()
        box = page.locator("#map").bounding_box()
        page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.7 * box["height"])
        page.wait_for_function("!document.getElementById('point').textContent.includes('0.00, 0.00')")
        page.screenshot(path=str(args.screenshot), full_page=True)


if __name__ == "__main__":
    main()
