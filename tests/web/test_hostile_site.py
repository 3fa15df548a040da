"""The browser site refuses what the runtime refuses: ONNX external data, graphs runtime.load would not
load, and values that would not survive strict JSON. Nothing is written when it refuses."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.runtime.forged_graphs import FORGERIES, external_data_bundle, reseal
from tests.runtime.tiny_bundle import make_bundle
from vaedge.errors import BundleError, InputError
from vaedge.runtime.manifest import manifest_digest

pytestmark = pytest.mark.reliability
onnx = pytest.importorskip("onnx")


@pytest.fixture(params=list(FORGERIES))
def external_bundle(request, tmp_path) -> Path:
    return external_data_bundle(tmp_path / "ext", request.param)


def test_external_data_never_reaches_the_site(external_bundle, tmp_path, reliability):
    from vaedge.web.site import build_site

    with pytest.raises((BundleError, InputError), match="external data"):
        build_site(external_bundle, tmp_path / "site")
    assert not (tmp_path / "site").exists()
    reliability(
        "forged graph (re-sealed): ONNX external data, vaedge web",
        "refused, no site written",
    )


def test_site_applies_the_runtimes_operator_and_signature_checks(tmp_path, reliability):
    """A decoder holding a Loop, and one whose tensors differ from the manifest: refused as runtime.load does."""
    from onnx import helper

    from vaedge.web.site import build_site

    root = make_bundle(tmp_path / "loop")
    model = onnx.load_from_string((root / "decoder.onnx").read_bytes())
    model.graph.node[0].op_type = "Loop"
    (root / "decoder.onnx").write_bytes(model.SerializeToString())
    reseal(root)
    with pytest.raises(InputError, match="Loop"):
        build_site(root, tmp_path / "site1")
    renamed = make_bundle(tmp_path / "renamed")
    model = onnx.load_from_string((renamed / "decoder.onnx").read_bytes())
    model.graph.output[0].name = "pixels"
    model.graph.node[-1].output[0] = "pixels"
    (renamed / "decoder.onnx").write_bytes(model.SerializeToString())
    reseal(renamed)
    with pytest.raises(InputError, match="does not match the manifest"):
        build_site(renamed, tmp_path / "site2")
    (renamed / "extra.bin").write_bytes(b"x")
    with pytest.raises(BundleError, match="not listed"):
        build_site(renamed, tmp_path / "site3")
    assert helper and not any((tmp_path / f"site{i}").exists() for i in (1, 2, 3))
    reliability(
        "vaedge web: a graph runtime.load refuses (Loop, wrong tensors, unlisted file)",
        "refused, no site written",
    )


@pytest.mark.parametrize("value", [1e200, -1e300])
def test_site_json_is_strict(bundle, tmp_path, value, reliability):
    """A parity.npz z_mean of 1e200 once became `Infinity` in vaedge-site.json."""
    from vaedge.web.site import build_site

    target = tmp_path / "b"
    shutil.copytree(bundle, target)
    with np.load(target / "parity.npz") as data:
        arrays = dict(data)
    arrays["z_mean"] = arrays["z_mean"].astype(np.float64)
    arrays["z_mean"][0, 0] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (target / "parity.npz").write_bytes(buffer.getvalue())
    manifest = json.loads((target / "vaedge.json").read_text())
    entry = next(f for f in manifest["files"] if f["path"] == "parity.npz")
    entry.update(
        sha256=hashlib.sha256(buffer.getvalue()).hexdigest(),
        size=len(buffer.getvalue()),
    )
    manifest["manifest_sha256"] = manifest_digest(manifest)
    (target / "vaedge.json").write_text(json.dumps(manifest))
    with pytest.raises((BundleError, InputError), match="z_mean"):
        build_site(target, tmp_path / "site")
    reliability(
        "vaedge web: parity.npz values that overflow JSON (1e200)",
        "refused, no Infinity written",
    )
