"""Serve a site on 127.0.0.1 with the headers multi-threaded WebAssembly needs.

SharedArrayBuffer (onnxruntime-web's threads) exists only in a cross-origin isolated page, which
takes `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`.
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"
HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
         ".json": "application/json", ".onnx": "application/octet-stream", ".css": "text/css",
         ".html": "text/html; charset=utf-8"}


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files with COOP/COEP headers and the MIME types WebAssembly modules need."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self) -> None:
        for name, value in HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format, *args) -> None:  # one line per request would bury the URL
        pass


def make_server(site: Path, port: int = 8000) -> ThreadingHTTPServer:
    """A server for `site` bound to 127.0.0.1:`port` (0: a free port); call serve_forever() on it."""
    handler = functools.partial(SiteHandler, directory=str(Path(site).resolve()))
    return ThreadingHTTPServer((HOST, port), handler)


def url(server: ThreadingHTTPServer) -> str:
    """The address the page is at."""
    return f"http://{HOST}:{server.server_address[1]}/"
