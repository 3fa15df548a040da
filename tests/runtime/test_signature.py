"""Authenticity: bundles signed with an EC key (OpenSSF model-signing), refused unless they verify."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from vaedge import runtime
from vaedge.cli import app
from vaedge.errors import SignatureError
from vaedge.runtime.manifest import manifest_digest

pytest.importorskip("model_signing", reason="signing needs pip install 'vaedge[sign]'")
pytest.importorskip("OpenSSL", reason="model-signing needs pyOpenSSL: pip install 'vaedge[sign]'")
pytestmark = pytest.mark.reliability
runner = CliRunner()


def keypair(folder, name):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@pytest.fixture
def signed(bundle, tmp_path):
    target = tmp_path / "signed"
    shutil.copytree(bundle, target)
    private, public = keypair(tmp_path, "maker")
    result = runner.invoke(app, ["sign", str(target), "--key", str(private)])
    assert result.exit_code == 0, result.output
    return target, public


def test_signed_bundle_verifies_and_generates(signed, tmp_path, reliability):
    target, public = signed
    assert (target / "vaedge.sig").is_file()
    images = runtime.load(target, public_key=public).sample(4, seed=0)
    np.testing.assert_array_equal(images, runtime.load(target).sample(4, seed=0))  # unsigned use still works
    result = runner.invoke(
        app, ["generate", str(target), "--n", "4", "--out", str(tmp_path / "s.png"), "--public-key", str(public)]
    )
    assert result.exit_code == 0, result.output
    reliability("authenticity: signed bundle, right public key", "loads and generates")


def test_wrong_key_unsigned_and_resealed_edits_are_refused(signed, bundle, tmp_path, reliability):
    target, public = signed
    _, stranger = keypair(tmp_path, "stranger")
    with pytest.raises(SignatureError, match="does not verify"):
        runtime.load(target, public_key=stranger)
    with pytest.raises(SignatureError, match="not signed"):
        runtime.load(bundle, public_key=public)
    manifest = json.loads((target / "vaedge.json").read_text())
    manifest["metrics"]["test_neg_elbo"] = 1.0  # a flattering edit, re-sealed so the manifest's own hash agrees
    manifest["manifest_sha256"] = manifest_digest(manifest)
    (target / "vaedge.json").write_text(json.dumps(manifest))
    runtime.load(target)  # integrity alone cannot tell
    with pytest.raises(SignatureError, match="vaedge.json: sha256 .* signed"):
        runtime.load(target, public_key=public)
    out = tmp_path / "never.png"
    result = runner.invoke(app, ["generate", str(target), "--n", "4", "--out", str(out), "--public-key", str(public)])
    assert (
        result.exit_code == 1 and result.output.count("\n") == 1 and "vaedge.sig" in result.output and not out.exists()
    )
    reliability(
        "authenticity: wrong key, unsigned bundle, edited and re-sealed manifest", "SignatureError naming the file"
    )


def test_a_private_key_is_not_a_public_key(signed, reliability):
    target, _ = signed
    with pytest.raises(SignatureError, match="not a usable EC public key"):
        runtime.load(target, public_key=target / "vaedge.json")
    reliability("authenticity: a file that is not a public key", "SignatureError naming the key file")
