"""Debian's Chromium, headless, driven by Playwright: for the browser tests and the browser benchmark.

Nothing here downloads a browser: it is the system `chromium` or nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> Path | None:
    """The system Chromium (VAEDGE_CHROMIUM, then `chromium` on PATH, then /usr/bin/chromium), or None."""
    for candidate in (os.environ.get("VAEDGE_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def launch(playwright, chromium: Path):
    """A headless Chromium browser from a started `sync_playwright()`."""
    return playwright.chromium.launch(executable_path=str(chromium), args=ARGS, headless=True)


# Measures decode throughput inside the page: `repeats` calls of `vaedge.decode` at `batch` latents,
# after two warm-up calls. Returns images per second.
DECODE_RATE_JS = """async ([batch, repeats]) => {
  await window.vaedge.ready;
  const D = window.vaedge.site.latent_dim;
  const z = Array.from({length: batch}, (_, i) => Array.from({length: D}, (_, j) => Math.sin(i + 7 * j)));
  for (let i = 0; i < 2; i++) await window.vaedge.decode(z);
  const start = performance.now();
  for (let i = 0; i < repeats; i++) await window.vaedge.decode(z);
  return batch * repeats / ((performance.now() - start) / 1000);
}"""
