"""`vaedge web` against strangers' input: a real server process on 127.0.0.1 asked for files outside
its site and for odd URLs; --force over the bundle it is made from; --port out of range."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.vaedge_command import command
from vaedge.web.site import MARKER

pytestmark = pytest.mark.reliability
SECRET = b"secret outside the site\n"


def raw_get(port: int, target: bytes) -> tuple[int, bytes]:
    """(status, body) of `GET target` sent byte for byte (no client-side quoting)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]) if head else 0, body


@pytest.fixture()
def served(tmp_path):
    """(site, port, process) of `vaedge web SITE --serve --port 0` over a site holding links out."""
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "sub" / "secret.txt").write_bytes(SECRET)
    site = tmp_path / "site"
    (site / "ort").mkdir(parents=True)
    (site / MARKER).write_text(json.dumps({"format": "vaedge-site"}))
    (site / "index.html").write_text("<p>page</p>")
    (site / "ort" / "a.js").write_text("var a;")
    os.symlink(outside / "secret.txt", site / "leak.txt")
    os.symlink("/etc/passwd", site / "passwd")
    os.symlink(outside, site / "linked")
    os.symlink(outside / "sub", site / "ort" / "deeper")
    os.symlink("index.html", site / "alias.html")  # inside the site, still a link: not followed
    os.mkfifo(site / "fifo.js")
    proc = subprocess.Popen(
        command("web", str(site), "--serve", "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert "serving" in line, line + proc.stderr.read()
    port = int(line.rsplit(":", 1)[1].split("/")[0])
    yield site, port, proc
    proc.terminate()
    proc.wait(timeout=30)


LINKS = [
    b"/leak.txt",
    b"/passwd",
    b"/linked/secret.txt",
    b"/linked/sub/secret.txt",
    b"/ort/deeper/secret.txt",
    b"/alias.html",
    b"/linked/",
    b"/linked",
    b"/fifo.js",
    b"/%6c%65%61%6b.txt",
]
ODD = [
    b"/%00",
    b"/index.html%00.js",
    b"/%ed%a0%80",
    b"/%ff",
    b"/%c0%ae%c0%ae/etc/passwd",
    b"/..%2f..%2fetc%2fpasswd",
    b"/%2e%2e/%2e%2e/etc/passwd",
    b"/../../etc/passwd",
    b"/..\\..\\etc\\passwd",
    b"/" + b"a" * 5000,
    b"/" + b"a/" * 400 + b"x",
    b"/%1b[2J",
    b"/ort/%2e%2e/%2e%2e/outside/secret.txt",
    b"//etc/passwd",
    b"/%",
    b"/%zz",
    b"/\xff\xfe",
    b"*",
    b"http://evil/etc/passwd",
]


def test_server_never_follows_links_or_odd_urls_out_of_the_site(served, reliability):
    _site, port, proc = served
    assert raw_get(port, b"/")[0] == 200 and raw_get(port, b"/ort/a.js") == (
        200,
        b"var a;",
    )
    assert raw_get(port, b"/ort")[0] == 301
    for target in LINKS:
        status, body = raw_get(port, target)
        assert status in (301, 404) and SECRET not in body and b"root:" not in body and b"page" not in body, target
        reliability(
            "server: a symlink (to a file or a folder, in or out of the site), FIFO or folder",
            "404, nothing served",
        )
    for target in ODD:
        status, body = raw_get(port, target)
        assert status in (400, 404, 414) and SECRET not in body and b"root:" not in body, (target, status)
        reliability(
            "server: odd URL (NUL, lone surrogate, bad UTF-8, .. encodings, very long, escapes)",
            "400/404, no traceback",
        )
    assert raw_get(port, b"/index.html")[0] == 200  # still serving after all that
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and "Error" not in err, err[-3000:]


@pytest.mark.parametrize("port", ["70000", "-1", "65536", "99999999999999999999"])
def test_port_out_of_range_is_one_line(tmp_path, port, reliability):
    site = tmp_path / "site"
    site.mkdir()
    (site / MARKER).write_text(json.dumps({"format": "vaedge-site"}))
    result = subprocess.run(
        command("web", str(site), "--serve", "--port", port),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr and "port" in result.stderr, result.stderr
    reliability("bad input: web --serve --port outside 0..65535", "one line, nothing served")


def test_force_over_a_site_holding_the_bundle_is_refused(bundle, tmp_path, reliability):
    site = tmp_path / "site"
    assert (
        subprocess.run(
            command("web", str(bundle), "--out", str(site)),
            check=False,
            capture_output=True,
            timeout=120,
        ).returncode
        == 0
    )
    inner = site / "bundle"
    shutil.copytree(bundle, inner)
    for out in (site, inner, inner / "sub"):
        result = subprocess.run(
            command("web", str(inner), "--out", str(out), "--force"),
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1 and "overlaps" in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert sorted(p.name for p in inner.iterdir()) == sorted(p.name for p in Path(bundle).iterdir())
    reliability(
        "data loss: web --force --out SITE where the bundle lives in SITE",
        "refused, the bundle intact",
    )
