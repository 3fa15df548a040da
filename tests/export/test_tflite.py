"""Fixed-batch TFLite graphs: op lists, one XNNPACK partition, parity with Keras, int8 I/O through
the runtime, graphs picked by chunk size (a 64x64x3 model end to end: tests/export/test_sources.py)."""

from __future__ import annotations

import collections
import json
import shutil

import numpy as np
import pytest

from vaedge import runtime
from vaedge.errors import BundleError, ExportError
from vaedge.export.config import ExportConfig
from vaedge.export.tflite_facts import tflite_ops, xnnpack_partitions
from vaedge.export.tflite_graphs import DYNAMIC_SHAPE_OPS
from vaedge.runtime.backends import open_bundle_file
from vaedge.runtime.fixed_batch import FixedBatchGraphs, HostQuantized, plan
from vaedge.runtime.manifest import MANIFEST, manifest_digest, read_manifest
from vaedge.runtime.parity import psnr

pytest.importorskip("ai_edge_litert")

TFLITE = [
    f"{role}.{variant}b{batch}.tflite"
    for role in ("encoder", "decoder")
    for variant in ("", "int8.", "int8io.")
    for batch in (1, 64)
]


def tflite_files(bundle):
    return [f for f in read_manifest(bundle).files if f.format == "tflite"]


def test_every_variant_at_every_fixed_batch(bundle):
    files = tflite_files(bundle)
    assert sorted(f.path for f in files) == sorted(TFLITE)
    for f in files:
        assert f.batch == int(f.path.split(".b")[1].split(".")[0])
        assert all(t["shape"][0] == f.batch for t in [*f.inputs, *f.outputs])
        io_dtypes = {t["dtype"] for t in [*f.inputs, *f.outputs]}
        assert io_dtypes == ({"int8"} if ".int8io." in f.path else {"float32"}), f.path


def test_op_lists_hold_no_dynamic_shape_ops(bundle):
    for f in tflite_files(bundle):
        ops = tflite_ops((bundle / f.path).read_bytes())
        assert f.extra["ops"] == ops, f.path  # the manifest records the graph's real op list
        assert not DYNAMIC_SHAPE_OPS & set(ops), (f.path, ops)
        assert "MUL" not in ops, (f.path, ops)  # BatchNorm folded: scale into the producer, shift onward
        if f.role == "decoder" and f.precision == "fp32":  # the one-channel last layer: depthwise conv + SUM
            counts = collections.Counter(ops)
            assert counts["TRANSPOSE_CONV"] == 2 and counts["DEPTHWISE_CONV_2D"] == counts["SUM"] == 1, ops
            assert "LOGISTIC" in ops, ops


def test_each_fp32_graph_runs_as_one_xnnpack_partition(bundle):
    for f in tflite_files(bundle):
        if f.precision != "fp32":
            continue
        assert xnnpack_partitions((bundle / f.path).read_bytes()) == {"partitions": 1, "whole": True}, f.path
        assert f.extra["xnnpack"] == {"partitions": 1, "whole": True}
        assert f.extra["gpu_compatible"] is True and f.extra["gpu_warnings"] == [], f.path


def test_the_dynamic_batch_graph_is_what_splits(trained_run):
    """The same check on TF's default, dynamic-batch conversion finds the SHAPE ops and several partitions."""
    from vaedge.export import convert
    from vaedge.export.sources import from_run

    data = convert.to_tflite(convert.decoder_function(from_run(trained_run)))
    assert DYNAMIC_SHAPE_OPS <= set(tflite_ops(data))
    assert xnnpack_partitions(data)["partitions"] > 1 and not xnnpack_partitions(data)["whole"]


def test_every_tflite_variant_matches_keras(exported, bundle, trained_run):
    from vaedge.export.sources import from_run

    assert exported.skipped == {}
    stored = read_manifest(bundle).validation["checks"]
    for name in TFLITE:  # the export's own gates, on held-out images and prior/posterior/grid latents
        values = [c for c in stored if c["file"] == name and c["metric"] in ("max_abs", "psnr_db")]
        assert values and all(c["passed"] for c in values), name
    decoder = from_run(trained_run).decoder
    z = np.random.default_rng(5).standard_normal((100, 2)).astype(np.float32)
    keras_images = np.asarray(decoder(z, training=False))
    manifest = read_manifest(bundle)
    for f in manifest.files:
        if f.format == "tflite" and f.role == "decoder":
            images = open_bundle_file(manifest, f).run({"z": z})["image"]
            if f.precision == "fp32":
                assert np.abs(images - keras_images).max() <= 1e-5, f.path
            else:
                assert psnr(images, keras_images) >= 30, f.path


def test_int8_io_round_trip_through_the_runtime(bundle):
    generator = runtime.load(bundle, backend="tflite", precision="int8")
    for graphs in (generator.encoder, generator.decoder):
        assert isinstance(graphs, FixedBatchGraphs) and graphs.batches == [1, 64]
        for model in graphs.models.values():
            assert isinstance(model, HostQuantized)
            assert all(dtype == "int8" for _, dtype in model.model.signature().values())
            assert model.model.quantization() == model.host_quantization  # manifest == graph
    reference = runtime.load(bundle, backend="onnx")
    images, eps = reference.sample(70, seed=3, return_eps=True)
    decoded = generator.decode(eps)
    assert decoded.dtype == np.float32 and decoded.shape == images.shape and psnr(decoded, images) >= 30
    z_mean, _ = generator.encode(images)
    assert psnr(reference.decode(z_mean), reference.decode(reference.encode(images)[0])) >= 30
    assert psnr(generator.reconstruct(images, sample=False), reference.reconstruct(images, sample=False)) >= 25


def test_plan_picks_graphs_by_chunk_size():
    assert plan(1, [1, 64]) == [(1, 1)]
    assert plan(7, [1, 64]) == [(1, 1)] * 7
    assert plan(64, [1, 64]) == [(64, 64)]
    assert plan(300, [1, 64]) == [(64, 64)] * 4 + [(64, 44)]
    assert plan(20, [1, 8, 64]) == [(8, 8), (8, 8), (8, 4)]
    assert sum(rows for _, rows in plan(1000, [1, 64])) == 1000


@pytest.mark.parametrize("n, calls", [(1, {1: 1}), (7, {1: 7}), (64, {64: 1}), (300, {64: 5})])
def test_runtime_chooses_graphs_by_chunk_and_never_resizes(bundle, n, calls):
    onnx_gen, tflite_gen = runtime.load(bundle, backend="onnx"), runtime.load(bundle, backend="tflite")
    eps = np.random.default_rng(n).standard_normal((n, 2)).astype(np.float32)
    images = tflite_gen.decode(eps)  # chunks of 256: 300 = 256 (4 x b64) + 44 (one b64, padded)
    assert dict(tflite_gen.decoder.calls) == calls
    assert images.shape == (n, 28, 28, 1) and np.abs(images - onnx_gen.decode(eps)).max() <= 1e-5
    for batch, model in tflite_gen.decoder.models.items():
        assert [d["shape"][0] for d in model.interpreter.get_input_details()] == [batch]  # never resized


def test_manifest_refuses_int8_tensors_without_matching_quantization(bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    raw = json.loads((copy / MANIFEST).read_text())
    entry = next(e for e in raw["files"] if e["path"] == "decoder.int8io.b64.tflite")

    def write(mutate):
        edited = json.loads(json.dumps(raw))
        mutate(next(e for e in edited["files"] if e["path"] == entry["path"]))
        edited["manifest_sha256"] = manifest_digest(edited)
        (copy / MANIFEST).write_text(json.dumps(edited))

    write(lambda e: e.pop("quantization"))
    with pytest.raises(BundleError, match="quantization must give scale and zero point for exactly the int8 tensors"):
        read_manifest(copy)
    write(lambda e: e["quantization"]["z"].update(zero_point=300))
    with pytest.raises(BundleError, match="zero_point: int in -128..127"):
        read_manifest(copy)
    write(lambda e: e["quantization"]["z"].update(scale=e["quantization"]["z"]["scale"] * 2))
    with pytest.raises(BundleError, match="int8 quantization .* differs from the manifest"):
        runtime.load(copy, backend="tflite", precision="int8")


def test_export_config_refuses_bad_tflite_batches():
    assert ExportConfig(tflite_batches=[64, 1, 64]).tflite_batches == [1, 64]
    for bad in ([], [0], [5000], [True]):
        with pytest.raises(ExportError, match="tflite batches"):
            ExportConfig(tflite_batches=bad).validate()
