"""Graphs, images and manifests from strangers, third pass: ONNX external data on every engine
(the browser site's side: tests/web/test_hostile_site.py), formats Pillow must never decode, manifests
whose numbers or text are hostile."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.runtime.forged_graphs import FORGERIES, external_data_bundle
from vaedge import runtime
from vaedge.cli import app
from vaedge.errors import BundleError, DataError

pytestmark = pytest.mark.reliability
runner = CliRunner()
onnx = pytest.importorskip("onnx")


@pytest.fixture(params=list(FORGERIES))
def external_bundle(request, tmp_path) -> Path:
    return external_data_bundle(tmp_path / "ext", request.param)


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
