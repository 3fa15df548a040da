"""`vaedge web --serve` cleans up on every exit: SIGTERM while the temporary site is built, a port in use
(named in the one-line error); no temporary site is left in TMPDIR, no traceback, no signal death.

The signal test waits for a state (the temporary site exists), not for a length of time, before it
sends the signal; it polls every 5 ms for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.runtime.tiny_bundle import make_bundle


@pytest.fixture
def tiny(tmp_path):
    return make_bundle(tmp_path / "bundle")


def web(bundle, tmpdir, port, **popen):
    env = {**os.environ, "TMPDIR": str(tmpdir), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "vaedge", "web", str(bundle), "--serve", "--port", str(port)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **popen)


def sites(tmpdir) -> list[str]:
    return [name for name in os.listdir(tmpdir) if name.startswith("vaedge-site-")]


@pytest.mark.reliability
def test_a_port_in_use_is_named_and_nothing_is_left(tiny, tmp_path, reliability):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = web(tiny, tmpdir, port)
        out, err = process.communicate(timeout=120)
    said = out + err
    assert process.returncode == 1, said
    assert said.startswith("error: ") and said.count("\n") == 1 and f"127.0.0.1:{port}" in said, said
    assert "Bad file descriptor" not in said and "Traceback" not in said, said
    assert sites(tmpdir) == []
    reliability("web --serve: port in use", "one line naming the port, temporary site removed")


def test_make_server_on_a_port_in_use_closes_the_site_folder(tmp_path):
    from vaedge.errors import InputError
    from vaedge.web.serve import make_server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = len(os.listdir("/proc/self/fd"))
        with pytest.raises(InputError, match=f"127.0.0.1:{port}"):
            make_server(tmp_path, port)
        assert len(os.listdir("/proc/self/fd")) == before  # the site folder's descriptor is closed again


def _wait_for(condition, process) -> None:
    while not condition():
        assert process.poll() is None, process.communicate()
        time.sleep(0.005)


@pytest.mark.reliability
def test_sigterm_while_the_site_is_built_removes_it(tiny, tmp_path, reliability):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    process = web(tiny, tmpdir, 0)
    _wait_for(lambda: sites(tmpdir), process)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode >= 0 and "Traceback" not in out + err, (process.returncode, out + err)
    assert sites(tmpdir) == []
    reliability("web --serve: SIGTERM while the temporary site is built", "temporary site removed, no signal death")
