"""Signing a bundle that strangers may have touched: re-signing, two signers at once, links and FIFOs
in the bundle, encrypted keys. Real `vaedge sign` processes and real EC keys."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tests.runtime.test_signature import keypair
from tests.vaedge_command import command
from vaedge import runtime
from vaedge.cli import app
from vaedge.errors import SignatureError

pytest.importorskip("model_signing", reason="signing needs pip install 'vaedge[sign]'")
pytestmark = pytest.mark.reliability
runner = CliRunner()


def sign(target, key, *extra, env=None):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "vaedge",
            "sign",
            str(target),
            "--key",
            str(key),
            *extra,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture
def copy(bundle, tmp_path):
    return shutil.copytree(bundle, tmp_path / "b")


def test_resigning_verifies_with_the_new_key(copy, tmp_path, monkeypatch, reliability):
    keys = [keypair(tmp_path, f"k{i}") for i in range(3)]
    for private, public in keys:
        assert runner.invoke(app, ["sign", str(copy), "--key", str(private)]).exit_code == 0
        runtime.load(copy, public_key=public)  # the newest signature verifies, its vaedge.sig not signed into it
        monkeypatch.chdir(tmp_path)  # a relative bundle path too
        assert runner.invoke(app, ["sign", "b", "--key", str(private)]).exit_code == 0
        runtime.load(copy, public_key=public)
    with pytest.raises(SignatureError):
        runtime.load(copy, public_key=keys[0][1])
    reliability(
        "signing: re-sign a signed bundle (new key, relative path)",
        "verifies with the new key only",
    )


def test_concurrent_signers_leave_one_valid_signature(copy, tmp_path, reliability):
    (k1, p1), (k2, p2) = keypair(tmp_path, "a"), keypair(tmp_path, "b")
    for _ in range(3):
        procs = [
            subprocess.Popen(
                command("sign", copy, "--key", k),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in (k1, k2, k1)
        ]
        results = [p.communicate(timeout=180) for p in procs]
        assert all(p.returncode == 0 for p in procs), results
        verified = 0
        for public in (p1, p2):
            try:
                runtime.load(copy, public_key=public)
                verified += 1
            except SignatureError:
                pass
        assert verified == 1 and not [p.name for p in copy.iterdir() if p.name.startswith(".")]  # no temp left
        reliability(
            "signing: three `vaedge sign` at once",
            "the signature left verifies with one key",
        )


@pytest.mark.parametrize(
    "stray",
    [
        "symlink out",
        "symlink in",
        "FIFO",
        "stray file",
        "signature symlink",
        "signature FIFO",
        "signature folder",
    ],
)
def test_links_and_fifos_in_a_bundle_are_one_line(copy, tmp_path, stray, reliability):
    private, _ = keypair(tmp_path, "k")
    if stray == "symlink out":
        os.symlink("/etc/passwd", copy / "extra.onnx")
    elif stray == "symlink in":
        os.symlink("decoder.onnx", copy / "alias.onnx")
    elif stray == "FIFO":
        os.mkfifo(copy / "pipe")
    elif stray == "stray file":
        (copy / ".hidden").write_bytes(b"x")
    elif stray == "signature symlink":
        (tmp_path / "elsewhere.sig").write_bytes(b"old")
        os.symlink(tmp_path / "elsewhere.sig", copy / "vaedge.sig")
    elif stray == "signature FIFO":
        os.mkfifo(copy / "vaedge.sig")
    else:
        (copy / "vaedge.sig").mkdir()
    result = sign(copy, private)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    if stray == "signature symlink":
        assert (tmp_path / "elsewhere.sig").read_bytes() == b"old"  # never written through the link
    reliability(
        "signing: unlisted symlink/FIFO/file in the bundle, or vaedge.sig a link/FIFO/folder",
        "one line, nothing signed",
    )


def encrypted_key(tmp_path, password: bytes):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = tmp_path / "enc.pem", tmp_path / "enc.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


def test_encrypted_key_with_its_password(copy, tmp_path, reliability):
    private, public = encrypted_key(tmp_path, b"correct horse")
    (tmp_path / "pw").write_bytes(b"correct horse\n")
    assert sign(copy, private, "--password-file", tmp_path / "pw").returncode == 0
    runtime.load(copy, public_key=public)
    env = {**os.environ, "VAEDGE_KEY_PASSWORD": "correct horse"}
    assert sign(copy, private, "--password-env", "VAEDGE_KEY_PASSWORD", env=env).returncode == 0
    runtime.load(copy, public_key=public)
    (tmp_path / "bad").write_bytes(b"wrong\n")
    for extra in (
        [],
        ["--password-file", tmp_path / "bad"],
        ["--password-env", "NO_SUCH_VARIABLE_HERE"],
        ["--password-file", "/dev/zero"],
    ):
        result = sign(copy, private, *extra)
        assert result.returncode == 1 and result.stderr.count("\n") == 1 and "correct horse" not in result.stderr, (
            result.stderr
        )
    runtime.load(copy, public_key=public)  # failed attempts left the good signature alone
    reliability(
        "signing: encrypted key, right password from a file or env var; wrong or none",
        "signs / one line",
    )
