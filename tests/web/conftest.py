"""A site made by the real `vaedge web --ort-web`, served by the real `vaedge web --serve`, opened in
Debian's headless Chromium. Skipped, with the reason, only when Chromium or onnxruntime-web is absent
(under CI a VAEDGE_ORT_WEB_DIR that is set but unusable fails instead)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.vaedge_command import command
from vaedge.web import ort
from vaedge.web.browser import find_chromium, launch

REPO = Path(__file__).resolve().parents[2]
VAEDGE = command()
HELD_OUT = 100  # held-out images the test site keeps
LOAD_TIMEOUT_MS = 120_000  # two CPU cores shared with other work: compiling a 14 MB wasm can be slow


def ort_web_dir() -> Path | None:
    """The onnxruntime-web dist/ folder: VAEDGE_ORT_WEB_DIR, else build/ort-web as .ci/run installs it."""
    given = os.environ.get("VAEDGE_ORT_WEB_DIR")
    path = Path(given) if given else REPO / "build/ort-web/node_modules/onnxruntime-web/dist"
    if all((path / name).is_file() for name in ort.FILES):
        return path
    if given and os.environ.get("CI") == "true":
        pytest.fail(f"VAEDGE_ORT_WEB_DIR={given} lacks {', '.join(ort.FILES)}")
    pytest.skip(
        f"onnxruntime-web not installed at {path}: npm install onnxruntime-web@{ort.VERSION} "
        "(see .ci/run) or set VAEDGE_ORT_WEB_DIR to its dist/ folder"
    )


@pytest.fixture(scope="session")
def ort_dist() -> Path:
    return ort_web_dir()


@pytest.fixture(scope="session")
def chromium() -> Path:
    path = find_chromium()
    if path is None:
        pytest.skip("no system Chromium (apt install chromium, or set VAEDGE_CHROMIUM); nothing downloads a browser")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install 'vaedge[dev]')")
    return path


@pytest.fixture(scope="session")
def site(tmp_path_factory, bundle, ort_dist, fashion_mnist_dir) -> Path:
    """`vaedge web BUNDLE --out SITE --ort-web DIR --data FASHION-MNIST`, run as a real process."""
    out = tmp_path_factory.mktemp("web") / "site"
    done = subprocess.run(
        [
            *VAEDGE,
            "web",
            str(bundle),
            "--out",
            str(out),
            "--ort-web",
            str(ort_dist),
            "--data",
            str(fashion_mnist_dir),
            "--examples",
            str(HELD_OUT),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return out


def start_server(site: Path) -> tuple[subprocess.Popen, str]:
    """`vaedge web SITE --serve --port 0` as a real process, and the URL it printed."""
    server = subprocess.Popen(
        [*VAEDGE, "web", str(site), "--serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = server.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    if not match:
        server.kill()
        pytest.fail(f"`vaedge web --serve` printed {line!r}, stderr {server.stderr.read()!r}")
    return server, match.group(0)


@pytest.fixture(scope="session")
def served(site):
    server, url = start_server(site)
    yield url
    server.terminate()
    assert server.wait(timeout=10) == 0


@pytest.fixture(scope="session")
def playwright_session(chromium):
    """One Playwright driver for the session: a second sync_playwright() in the same thread is refused."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(chromium, playwright_session):
    instance = launch(playwright_session, chromium)
    yield instance
    instance.close()


class Page:
    """A loaded page and everything it logged and requested."""

    def __init__(self, page, console, requests):
        self.page, self.console, self.requests = page, console, requests

    def errors(self) -> list[str]:
        return [text for kind, text in self.console if kind in ("error", "pageerror")]


def open_page(browser, url: str) -> Page:
    """`url` opened in a new page of `browser` (or of a browser context), once it is ready or shows an error."""
    page = browser.new_page()
    page.set_viewport_size({"width": 1100, "height": 900})
    console, requests = [], []
    page.on("console", lambda message: console.append((message.type, message.text)))
    page.on("pageerror", lambda error: console.append(("pageerror", str(error))))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    page.wait_for_function(
        "document.body.dataset.rendered === 'true' || !document.getElementById('error').hidden", timeout=LOAD_TIMEOUT_MS
    )
    return Page(page, console, requests)


@pytest.fixture(scope="session")
def loaded(browser, served) -> Page:
    """The offline site's page, once vaedge.ready resolved and the grid, map and interpolation were drawn."""
    page = open_page(browser, served)
    yield page
    page.page.close()
