"""Graphs, images and manifests from strangers, third pass: ONNX external data on every engine and in
the browser site, formats Pillow must never decode, manifests whose numbers or text are hostile."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.runtime.tiny_bundle import LATENT, SIDE, make_bundle
from vaedge import runtime
from vaedge.cli import app
from vaedge.errors import BundleError, DataError, InputError
from vaedge.runtime.manifest import (
    build_manifest,
    file_entry,
    manifest_digest,
    tensor_specs,
)

pytestmark = pytest.mark.reliability
runner = CliRunner()
onnx = pytest.importorskip("onnx")


def reseal(root: Path) -> None:
    """Rewrite the manifest for the graphs now in `root`, as an attacker who knows the format would."""
    files = [
        file_entry(
            root,
            f"{r}.onnx",
            role=r,
            format="onnx",
            precision="fp32",
            **dict(zip(("inputs", "outputs"), tensor_specs(r, (SIDE, SIDE, 1), LATENT))),
        )
        for r in ("encoder", "decoder")
    ]
    (root / "vaedge.json").write_text(json.dumps(build_manifest((SIDE, SIDE, 1), LATENT, files)))


def external(tensor, location: str) -> None:
    from onnx import TensorProto

    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.ClearField("int64_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "32")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value


def forge_initializer(model, location):
    external(next(t for t in model.graph.initializer if t.name == "wt"), location)


def forge_constant(model, location):
    from onnx import helper, numpy_helper

    tensor = numpy_helper.from_array(np.ones((LATENT, SIDE * SIDE), np.float32), "wt")
    external(tensor, location)
    model.graph.initializer.remove(next(t for t in model.graph.initializer if t.name == "wt"))
    model.graph.node.insert(0, helper.make_node("Constant", [], ["wt"], value=tensor))


def forge_flag_only(model, location):
    from onnx import TensorProto

    next(t for t in model.graph.initializer if t.name == "wt").data_location = TensorProto.EXTERNAL


def forge_sparse(model, location):
    from onnx import helper, numpy_helper

    values = numpy_helper.from_array(np.ones(1, np.float32), "wt")
    external(values, location)
    indices = numpy_helper.from_array(np.zeros(1, np.int64), "wt_i")
    model.graph.initializer.remove(next(t for t in model.graph.initializer if t.name == "wt"))
    model.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, [LATENT, SIDE * SIDE]))


FORGERIES = {
    "initializer, absolute path": (forge_initializer, "/etc/passwd"),
    "initializer, relative path": (forge_initializer, "../../../../../../etc/passwd"),
    "initializer, file beside it": (forge_initializer, "vaedge.json"),
    "Constant attribute": (forge_constant, "/etc/passwd"),
    "sparse initializer": (forge_sparse, "/etc/passwd"),
    "EXTERNAL flag alone": (forge_flag_only, ""),
}


@pytest.fixture(params=list(FORGERIES))
def external_bundle(request, tmp_path) -> Path:
    root = make_bundle(tmp_path / "ext")
    model = onnx.load_from_string((root / "decoder.onnx").read_bytes())
    forge, location = FORGERIES[request.param]
    forge(model, location)
    (root / "decoder.onnx").write_bytes(model.SerializeToString())
    reseal(root)
    return root


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_external_data_is_refused_by_every_engine(external_bundle, backend, reliability):
    if backend == "openvino":
        pytest.importorskip("openvino")
    with pytest.raises(BundleError, match="external data"):
        runtime.load(external_bundle, backend=backend)
    reliability(
        f"forged graph (re-sealed): ONNX external data, {backend} backend",
        "BundleError before the engine reads",
    )


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
    import io

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
    import hashlib

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


# ------------------------------------------------------------------ manifests: numbers and text
def raw_manifest(bundle, tmp_path, text_edit) -> Path:
    target = tmp_path / "m"
    shutil.copytree(bundle, target)
    text = text_edit((target / "vaedge.json").read_text())
    (target / "vaedge.json").write_text(text)
    return target


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace('"latent_dim": 2', '"latent_dim": ' + "9" * 5000),
        lambda t: t.replace('"latent_dim": 2', '"latent_dim": NaN'),
        lambda t: t.replace('"latent_dim": 2', '"latent_dim": Infinity'),
        lambda t: t.replace('"latent_dim": 2', '"latent_dim": ' + "[" * 100000 + "]" * 100000),
        lambda t: t.replace('"latent_dim": 2', '"latent_dim": 2, "x": "\\ud800"'),
    ],
    ids=["5000 digits", "NaN", "Infinity", "deep nesting", "lone surrogate"],
)
def test_hostile_json_numbers_are_one_line(bundle, tmp_path, edit, reliability):
    target = raw_manifest(bundle, tmp_path, edit)
    with pytest.raises(BundleError):
        runtime.load(target)
    result = runner.invoke(app, ["info", str(target)])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    reliability(
        "forged manifest: 5000-digit integer, NaN, Infinity, deep nesting",
        "BundleError, one line",
    )


# ------------------------------------------------------------------ Pillow sees only documented formats
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n%%EndComments\n(/etc/passwd) (r) file pop showpage\n%%EOF\n"


@pytest.fixture()
def eps_never_chosen(monkeypatch):
    """Fail the test if Pillow's EPS plugin is ever asked to open anything."""
    from PIL import EpsImagePlugin

    def refuse(self):
        raise AssertionError("EpsImagePlugin was chosen")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", refuse)
    monkeypatch.setattr(
        EpsImagePlugin,
        "Ghostscript",
        lambda *a, **k: pytest.fail("Ghostscript started"),
    )


OTHER_FORMATS = {
    "EPS": EPS,
    "PSD": b"8BPS\x00\x01" + bytes(20),
    "PDF-like PostScript": b"%!PS\n" + EPS,
    "TIFF": b"II*\x00\x08\x00\x00\x00" + bytes(16),
    "ICO": b"\x00\x00\x01\x00\x01\x00" + bytes(16),
    "XBM": b"#define im_width 8\n#define im_height 1\nstatic char im_bits[] = {0x00};\n",
}


@pytest.mark.parametrize("kind", list(OTHER_FORMATS))
@pytest.mark.parametrize("suffix", [".png", ".jpg", ".gif"])
def test_undocumented_formats_are_never_decoded(tmp_path, kind, suffix, eps_never_chosen, reliability):
    from vaedge.io.images import decode_image

    path = tmp_path / f"photo{suffix}"
    path.write_bytes(OTHER_FORMATS[kind])
    with pytest.raises(DataError, match="cannot decode"):
        decode_image(path, 1)
    reliability(
        f"image: {kind} named {suffix} (Pillow plugin by content)",
        "refused, the plugin never chosen",
    )


def test_eps_is_refused_by_every_command_that_reads_images(bundle, tmp_path, eps_never_chosen, reliability):
    eps = tmp_path / "photo.png"
    eps.write_bytes(EPS)
    for command in (
        ["encode", str(bundle), str(eps)],
        ["reconstruct", str(bundle), str(eps), "--out", str(tmp_path / "r.png")],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 1 and "cannot decode" in result.output, result.output
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        shutil.copy(eps, folder / f"{i}.png")
    from vaedge.train.data import load_dataset as load

    with pytest.raises(DataError, match="cannot decode"):
        load(str(folder), image_size=(28, 28), channels=1)
    reliability(
        "image: EPS named .png to encode, reconstruct and training data",
        "refused, Ghostscript never started",
    )
