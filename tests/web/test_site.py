"""`vaedge web` builds: verified bundle bytes in, an atomic site out, pinned onnxruntime-web hashes."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.web.conftest import VAEDGE
from vaedge.errors import BundleError, InputError, OutputError
from vaedge.web import ort
from vaedge.web.site import MARKER, build_site, is_site


def test_embedded_integrity_hashes_match_the_npm_package(ort_dist):
    assert ort.package_version(ort_dist) == ort.VERSION
    files = ort.read_dist(ort_dist)
    assert {name: ort.sri(data) for name, data in files.items()} == ort.SRI


def test_site_holds_verified_models_and_marker(bundle, tmp_path):
    site = build_site(bundle, tmp_path / "site", precisions=["fp32", "fp16"])
    marker = json.loads((site / MARKER).read_text())
    assert is_site(site) and marker["latent_dim"] == 2 and marker["default_precision"] == "fp32"
    for models in marker["models"].values():
        for model in models.values():
            assert (site / model["path"]).read_bytes() == (bundle / model["path"]).read_bytes()
    assert marker["onnxruntime_web"] == {"version": ort.VERSION, "source": "cdn", "base": ort.CDN, "integrity": ort.SRI}


def test_tampered_bundle_writes_nothing(bundle, tmp_path):
    copy = shutil.copytree(bundle, tmp_path / "bundle")
    data = bytearray((copy / "decoder.onnx").read_bytes())
    data[-1] ^= 1
    (copy / "decoder.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"decoder\.onnx: sha256"):
        build_site(copy, tmp_path / "site")
    assert not (tmp_path / "site").exists() and list(tmp_path.iterdir()) == [copy]


def test_force_replaces_only_a_site(bundle, tmp_path):
    site = build_site(bundle, tmp_path / "site")
    with pytest.raises(OutputError, match="pass --force"):
        build_site(bundle, site)
    build_site(bundle, site, precisions=["int8"], force=True)
    assert set(json.loads((site / MARKER).read_text())["models"]) == {"int8"}
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    with pytest.raises(OutputError, match="not a site made by vaedge"):
        build_site(bundle, other, force=True)
    assert (other / "notes.txt").read_text() == "keep"


def test_bad_options_fail_in_one_line(bundle, tmp_path):
    with pytest.raises(InputError, match="--precision fp64"):
        build_site(bundle, tmp_path / "a", precisions=["fp64"])
    with pytest.raises(InputError, match="not an onnxruntime-web dist/ folder"):
        build_site(bundle, tmp_path / "b", ort_web=tmp_path)
    done = subprocess.run([*VAEDGE, "web", str(bundle)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "--out SITE" in done.stderr
