"""The onnx backend on onnxruntime's own format (.ort): loaded when the bundle has it, hash-checked and
op-checked like every file, the same outputs as the .onnx it was made from. Tiny real bundles
(tests/runtime/tiny_bundle.py) with their .ort files written by export's own `write_ort`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vaedge import runtime
from vaedge.errors import BundleError
from vaedge.runtime.manifest import MANIFEST, build_manifest, file_entry, read_manifest

pytest.importorskip("onnx")


def with_ort(root):
    """Add export's .ort files and operators config to the tiny bundle at `root`; return `root`."""
    from vaedge.export.ort_format import write_ort

    raw = json.loads((root / MANIFEST).read_text())
    onnx = [(f["path"], {k: v for k, v in f.items() if k not in ("path", "sha256", "size")}) for f in raw["files"]]
    added = write_ort(root, onnx)
    files = raw["files"] + [file_entry(root, name, **fields) for name, fields in added]
    (root / MANIFEST).write_text(json.dumps(build_manifest((4, 4, 1), 2, files)))
    return root


@pytest.fixture
def bundles(tmp_path):
    from tests.runtime.tiny_bundle import make_bundle

    return make_bundle(tmp_path / "onnx"), with_ort(make_bundle(tmp_path / "ort"))


def test_the_onnx_backend_runs_the_ort_files_with_the_onnx_outputs(bundles):
    plain, ort = bundles
    assert {f.format for f in read_manifest(ort).files} == {"onnx", "ort", "config"}
    z = np.random.default_rng(0).standard_normal((5, 2)).astype(np.float32)
    images = np.random.default_rng(1).random((3, 4, 4, 1)).astype(np.float32)
    from_onnx, from_ort = runtime.load(plain, backend="onnx"), runtime.load(ort, backend="onnx")
    assert from_ort.decoder.name.endswith("decoder.ort") and from_onnx.decoder.name.endswith("decoder.onnx")
    np.testing.assert_array_equal(from_ort.decode(z), from_onnx.decode(z))
    for a, b in zip(from_ort.encode(images), from_onnx.encode(images)):
        np.testing.assert_array_equal(a, b)
    # the CPU provider asked for by name still runs the .ort (any other provider list runs the .onnx)
    assert runtime.load(ort, backend="onnx", providers=["CPUExecutionProvider"]).decoder.name.endswith(".ort")


def test_a_tampered_ort_file_is_refused(bundles):
    _, ort = bundles
    data = bytearray((ort / "decoder.ort").read_bytes())
    data[-8] ^= 1
    (ort / "decoder.ort").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"decoder\.ort: sha256"):
        runtime.load(ort, backend="onnx")


def test_an_ort_file_with_an_op_a_bundle_never_holds_is_refused(tmp_path):
    """The .ort form is op-checked from its own flatbuffer, as the .onnx is from its protobuf."""
    from tests.runtime.tiny_bundle import make_bundle

    bundle = with_ort(make_bundle(tmp_path / "b", decoder_op="Sin"))
    with pytest.raises(BundleError, match=r"decoder\.ort: holds operators a vaedge bundle never needs: Sin"):
        runtime.load(bundle, backend="onnx")


def test_ort_bytes_that_are_not_a_model_are_refused(bundles):
    from vaedge.runtime.graph_ops import check_ort_ops

    _, ort = bundles
    data = (ort / "decoder.ort").read_bytes()
    with pytest.raises(BundleError, match="not a readable ORT format model"):
        check_ort_ops(data[:8] + b"\xff" * 64, "cut.ort")
