"""Serve a site on 127.0.0.1 with the headers multi-threaded WebAssembly needs.

SharedArrayBuffer (onnxruntime-web's threads) exists only in a cross-origin isolated page, which
takes `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`.

Only regular files inside the site are served: the URL is decoded strictly (a NUL byte, a lone
surrogate, a control character or a path over MAX_URL is a 400), and the file is reached one folder
at a time with O_NOFOLLOW from the site's own descriptor, so no symlink (to a file or a folder,
inside the site or out), no `..` and no swap of a folder for a link during the walk is followed.
No folder is listed. A request that fails anyway costs its connection, never a traceback.
"""

from __future__ import annotations

import os
import stat
import urllib.parse
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from vaedge.errors import InputError

HOST = "127.0.0.1"
MAX_URL = 1024
MAX_PARTS = 32
HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".onnx": "application/octet-stream",
    ".css": "text/css",
    ".html": "text/html; charset=utf-8",
}
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class Refused(Exception):
    """A request answered with `status` and nothing from the disk."""

    def __init__(self, status: HTTPStatus):
        super().__init__(status.phrase)
        self.status = status


def url_parts(path: str) -> list[str]:
    """The folder and file names a request path names, decoded strictly; Refused for anything odd.
    An empty list is the site's root; a trailing '/' adds 'index.html'."""
    raw = path.split("?", 1)[0].split("#", 1)[0]
    if len(path) > MAX_URL or not raw.startswith("/"):
        raise Refused(HTTPStatus.BAD_REQUEST)
    try:
        text = urllib.parse.unquote(raw, errors="strict")  # a lone surrogate is not UTF-8: refused
    except UnicodeDecodeError:
        raise Refused(HTTPStatus.BAD_REQUEST) from None
    if not text.isprintable() or "\\" in text:
        raise Refused(HTTPStatus.BAD_REQUEST)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts or len(parts) > MAX_PARTS or any(len(p.encode()) > 255 for p in parts):
        raise Refused(HTTPStatus.NOT_FOUND)
    return parts + ["index.html"] if text.endswith("/") else parts


def open_in_site(root_fd: int, parts: list[str]) -> int:
    """A descriptor of the regular file at `parts` under the folder `root_fd`, reached without
    following any symlink; Refused(404) for anything else (a link, a folder, a FIFO, nothing)."""
    fds = [os.dup(root_fd)]
    try:
        for name in parts:
            try:
                fd = os.open(name, _OPEN, dir_fd=fds[-1])
            except OSError:  # ELOOP for a symlink, ENOENT, EACCES...
                raise Refused(HTTPStatus.NOT_FOUND) from None
            fds.append(fd)
        mode = os.fstat(fds[-1]).st_mode
        if stat.S_ISDIR(mode):
            raise Refused(HTTPStatus.MOVED_PERMANENTLY)
        if not stat.S_ISREG(mode) or len(fds) == 1:
            raise Refused(HTTPStatus.NOT_FOUND)
        return fds.pop()
    finally:
        for fd in fds:
            os.close(fd)


class SiteHandler(SimpleHTTPRequestHandler):
    """Static files with COOP/COEP headers and the MIME types WebAssembly modules need."""

    extensions_map: ClassVar[dict] = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}
    root_fd: int = -1  # set per server by make_server

    def end_headers(self) -> None:
        for name, value in HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def send_head(self):
        try:
            parts = url_parts(self.path)
            fd = open_in_site(self.root_fd, parts)
        except Refused as refused:
            if refused.status == HTTPStatus.MOVED_PERMANENTLY:
                self.send_response(refused.status)
                self.send_header("Location", self.path.split("?", 1)[0] + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self.send_error(refused.status)
            return None
        file = os.fdopen(fd, "rb")
        size = os.fstat(fd).st_size
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(parts[-1]))
        self.send_header("Content-Length", str(size))
        self.end_headers()
        return file

    def list_directory(self, path):  # never reached through send_head; no listings whatever happens
        self.send_error(HTTPStatus.NOT_FOUND)

    def log_message(self, format, *args) -> None:  # one line per request would bury the URL
        pass


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A request that failed (a client gone mid-reply): drop it quietly, never a traceback."""

    def server_close(self) -> None:
        super().server_close()
        handler = self.RequestHandlerClass
        if handler.root_fd >= 0:
            os.close(handler.root_fd)
            handler.root_fd = -1


def check_port(port) -> int:
    """`port` if it is a TCP port (0: any free one); InputError otherwise."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InputError(f"--port must be in 1..65535 (0: any free port), got {port!r}")
    return port


def make_server(site: Path, port: int = 8000) -> ThreadingHTTPServer:
    """A server for `site` bound to 127.0.0.1:`port` (0: a free port); call serve_forever() on it."""
    check_port(port)
    try:
        root_fd = os.open(Path(site).resolve(), os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"{site}: cannot serve it ({exc.strerror})") from None
    handler = type("BoundSiteHandler", (SiteHandler,), {"root_fd": root_fd})
    try:
        return SiteServer((HOST, port), handler)
    except OSError as exc:  # socketserver's own server_close() may have closed root_fd already
        if handler.root_fd >= 0:
            os.close(handler.root_fd)
            handler.root_fd = -1
        raise InputError(
            f"{HOST}:{port}: cannot serve there ({exc.strerror or exc}); stop what uses the port or pick "
            "another --port (0: any free port)"
        ) from None


def url(server: ThreadingHTTPServer) -> str:
    """The address the page is at."""
    return f"http://{HOST}:{server.server_address[1]}/"
