"""`vaedge export --micro`: the int8-I/O batch-1 graphs run under TensorFlow Lite Micro for real, and
what the manifest records about them holds on a fresh measurement."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from vaedge.errors import BundleError, ExportError
from vaedge.runtime.manifest import MANIFEST, manifest_digest, read_all, read_file, read_manifest

pytest.importorskip("tflite_micro")
pytest.importorskip("ai_edge_litert")

from vaedge.runtime.backends import open_model
from vaedge.runtime.fixed_batch import FixedBatchGraphs, quantize
from vaedge.runtime.litert_backend import TFLiteModel
from vaedge.runtime.options import EngineOptions
from vaedge.runtime.tflm_backend import TflmModel, graph_ops, smallest_arena


def micro_files(bundle):
    manifest = read_manifest(bundle)
    return manifest, {role: next(f for f in manifest.files if f.path == g.file) for role, g in manifest.micro.items()}


def test_both_roles_are_micro_graphs_with_their_figures(micro_bundle):
    manifest, files = micro_files(micro_bundle)
    assert sorted(manifest.micro) == ["decoder", "encoder"]
    for role, graph in manifest.micro.items():
        data = read_file(manifest, files[role])
        assert files[role].batch == 1 and files[role].quantization, graph.file
        assert graph.flash_bytes == len(data)
        assert graph.ops == graph_ops(data)
        assert graph.litert_max_lsb <= 1
        assert graph.psnr_db >= 30
        assert np.isfinite(graph.iwae_vs_fp32)  # nats per image vs fp32, on held-out images (goal below)


def test_the_micro_decoder_fits_64_kib_of_ram_and_96_kib_of_flash(micro_bundle):
    decoder = read_manifest(micro_bundle).micro["decoder"]
    assert decoder.arena_bytes <= 64 * 1024 and decoder.flash_bytes <= 96 * 1024, decoder
    # The 1-nat IWAE goal is not asserted: on this 2-epoch, 2048-image test model the micro decoder costs
    # about 1.8 nats (the standard int8 graph 0.2); export writes a likelihood note when it is over 1 nat.
    assert "DEPTH_TO_SPACE" in decoder.ops  # the last upsampling in sub-pixel form: no 98 KiB scratch


def test_manifest_arena_is_within_5_percent_of_a_fresh_bisection(micro_bundle):
    manifest, files = micro_files(micro_bundle)
    for role, graph in manifest.micro.items():
        fresh = smallest_arena(read_file(manifest, files[role]))
        assert abs(graph.arena_bytes - fresh) <= 0.05 * fresh, (role, graph.arena_bytes, fresh)


def test_tflm_and_litert_agree_within_one_lsb_on_the_same_file_and_inputs(micro_bundle):
    manifest, files = micro_files(micro_bundle)
    reference = np.load(micro_bundle / "parity.npz")
    rng = np.random.default_rng(7)
    feeds = {
        "decoder": {"z": rng.standard_normal((48, manifest.latent_dim)).astype(np.float32)},
        "encoder": {"image": reference["images"][:16]},
    }
    for role, file in files.items():
        data = read_file(manifest, file)
        # LiteRT's builtin kernels, the family TFLM's come from (XNNPACK rounds int8 its own way)
        tflm = FixedBatchGraphs({file.batch: open_model(data, "tflite", file.path, EngineOptions("tflm"))})
        litert = FixedBatchGraphs({file.batch: TFLiteModel(data, file.path, xnnpack=False)})
        int8 = {k: quantize(v, **file.quantization[k]) for k, v in feeds[role].items()}
        on_tflm, on_litert = tflm.run(int8), litert.run(int8)
        assert sorted(on_tflm) == sorted(on_litert) == sorted(t["name"] for t in file.outputs)
        for name in on_tflm:
            assert on_tflm[name].dtype == np.int8
            assert np.abs(on_tflm[name].astype(int) - on_litert[name].astype(int)).max() <= 1, (role, name)


def tile_graph() -> bytes:
    """A float graph holding TILE, which LiteRT runs and TFLM has no kernel for."""
    tf = pytest.importorskip("tensorflow")

    @tf.function(input_signature=[tf.TensorSpec([1, 2], tf.float32, name="z")])
    def tiled(z):
        return {"image": tf.tile(z, [1, 3])}

    return tf.lite.TFLiteConverter.from_concrete_functions([tiled.get_concrete_function()], tiled).convert()


def reseal(stage, name: str, data: bytes) -> None:
    """Replace `name` in a bundle copy and update its manifest entry and digest, as an export would have."""
    (stage / name).write_bytes(data)
    raw = json.loads((stage / MANIFEST).read_text())
    entry = next(e for e in raw["files"] if e["path"] == name)
    entry.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    raw.pop("micro", None)
    raw["manifest_sha256"] = manifest_digest(raw)
    (stage / MANIFEST).write_text(json.dumps(raw))


def test_a_graph_holding_an_op_tflm_lacks_is_refused_at_export_in_one_line(micro_bundle, tmp_path):
    from vaedge.export.micro import micro_graphs
    from vaedge.runtime.parity import load_stored_reference

    stage = tmp_path / "bundle"
    shutil.copytree(micro_bundle, stage)
    reseal(stage, "decoder.int8io.b1.tflite", tile_graph())
    manifest = read_manifest(stage)
    reference = load_stored_reference(manifest)
    section, refused, _ = micro_graphs(
        manifest, read_all(manifest), reference, reference["images"][:8], seed=0, fp32_iwae=0.0
    )
    assert list(section["graphs"]) == ["encoder"]  # the other graph is still measured
    why = refused["decoder.int8io.b1.tflite"]
    assert "TILE" in why and "TFLM" in why and "\n" not in why
    with pytest.raises(BundleError, match="no kernel for TILE"):
        TflmModel(tile_graph(), "tile.tflite")


def test_manifest_refuses_a_micro_section_that_does_not_fit_its_files(micro_bundle, tmp_path):
    stage = tmp_path / "bundle"
    shutil.copytree(micro_bundle, stage)
    raw = json.loads((stage / MANIFEST).read_text())
    raw["micro"]["graphs"]["decoder"]["file"] = "decoder.onnx"
    raw["micro"]["graphs"]["encoder"]["arena_bytes"] = -1
    raw["manifest_sha256"] = manifest_digest(raw)
    (stage / MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(BundleError, match=r"micro\.graphs\.encoder\.arena_bytes.*micro\.graphs\.decoder\.file"):
        read_manifest(stage)


def test_micro_needs_the_tflite_graphs():
    from vaedge.export.config import ExportConfig

    config = ExportConfig(micro=True, tflite=False)
    assert "int8" in config.precisions and 1 in config.tflite_batches
    with pytest.raises(ExportError, match="--micro needs the TFLite graphs"):
        config.validate()
