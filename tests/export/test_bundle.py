"""`vaedge export` on a real trained run: graphs, names, optimisation, manifest, validation, refusal."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

from vaedge.cli import app
from vaedge.errors import BundleError
from vaedge.export.convert import random_ops
from vaedge.runtime.backends import open_bundle_file
from vaedge.runtime.manifest import check_files, read_manifest
from vaedge.runtime.parity import validate_stored

runner = CliRunner()
FILES = [
    f"{role}.{variant}"
    for role in ("encoder", "decoder")
    for variant in (
        "onnx",
        "fp16.onnx",
        "int8.onnx",
        "ort",
        "fp16.ort",
        "int8.ort",
        "b1.tflite",
        "b64.tflite",
        "int8.b1.tflite",
        "int8.b64.tflite",
        "int8io.b1.tflite",
        "int8io.b64.tflite",
    )
]


def test_every_variant_written_and_listed(exported):
    manifest = read_manifest(exported.bundle)
    assert exported.skipped == {}
    assert sorted(f.path for f in manifest.files) == sorted([*FILES, "parity.npz", "required_operators.config"])
    assert manifest.image_shape == (28, 28, 1) and manifest.latent_dim == 2
    assert manifest.raw["image"]["layout"] == "NHWC" and manifest.raw["sampling"]["in_graph"] is False
    assert "exp(0.5 * z_log_var)" in manifest.raw["sampling"]["formula"]
    producer = manifest.raw["producer"]
    assert all(producer[k] for k in ("tensorflow", "keras", "tf2onnx", "onnx"))
    assert manifest.raw["train_config"]["latent_dim"] == 2 and "test_neg_elbo" in manifest.raw["metrics"]
    assert check_files(manifest) is None
    assert all(c["passed"] for c in manifest.raw["validation"]["checks"])


@pytest.mark.parametrize(
    "role, inputs, outputs", [("encoder", ["image"], ["z_mean", "z_log_var"]), ("decoder", ["z"], ["image"])]
)
def test_onnx_graphs_names_no_random_ops_dynamic_batch(bundle, role, inputs, outputs):
    for precision in ("", ".fp16", ".int8"):
        path = bundle / f"{role}{precision}.onnx"
        model = onnx.load(path)
        assert random_ops(model) == []
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == inputs
        assert [o.name for o in session.get_outputs()] == outputs
        for n in (1, 7, 256):
            feed = np.random.default_rng(n).random((n, 28, 28, 1) if role == "encoder" else (n, 2)).astype(np.float32)
            result = session.run(None, {inputs[0]: feed})
            assert result[0].shape[0] == n and all(np.isfinite(r).all() for r in result)


def test_tflite_fixed_batch_graphs_take_any_n_and_keep_names(bundle):
    manifest = read_manifest(bundle)
    for name in ("decoder.b64.tflite", "decoder.int8.b1.tflite", "encoder.b1.tflite", "encoder.int8.b64.tflite"):
        model = open_bundle_file(manifest, next(f for f in manifest.files if f.path == name))
        assert model.batches == [int(name.split(".b")[1].split(".")[0])] and model.batch is None
        for n in (1, 7, 256):  # pieces of the fixed batch, the last one padded
            feed = (
                {"z": np.zeros((n, 2), np.float32)}
                if name.startswith("decoder")
                else {"image": np.zeros((n, 28, 28, 1), np.float32)}
            )
            out = model.run(feed)
            assert sorted(out) == (["image"] if name.startswith("decoder") else ["z_log_var", "z_mean"])
            assert all(v.shape[0] == n for v in out.values())


def test_optimised_graphs_fold_batchnorm_and_drop_transposes(bundle):
    manifest = read_manifest(bundle)
    for role in ("encoder", "decoder"):
        counts = manifest.raw["op_counts"][role]
        assert counts["before"].get("Mul", 0) == 3, counts  # three post-ReLU BatchNorms from tf2onnx
        after = {n.op_type for n in onnx.load(bundle / f"{role}.onnx").graph.node}
        assert not after & {"Mul", "Transpose", "BatchNormalization", "Shape", "Sqrt"}, after
        assert counts["after"] == manifest.find(role, "onnx", "fp32").extra["op_counts"]


def test_validate_cli_stored_and_json(bundle, tmp_path):
    result = runner.invoke(app, ["validate", str(bundle), "--json", str(tmp_path / "v.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["passed"] and {c["file"] for c in report["checks"]} >= set(FILES)


def test_validate_against_fresh_keras(bundle, trained_run, fashion_mnist_dir):
    result = runner.invoke(
        app, ["validate", str(bundle), "--keras", str(trained_run), "--data", str(fashion_mnist_dir), "--verbose"]
    )
    assert result.exit_code == 0, result.output
    assert "256 held-out images" in result.output  # the full table, with each check's probe


def test_tampered_file_fails_validation_naming_file_and_hash(bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    data = bytearray((copy / "decoder.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "decoder.onnx").write_bytes(bytes(data))
    result = runner.invoke(app, ["validate", str(copy)])
    assert result.exit_code == 1 and "decoder.onnx: sha256" in result.output and "manifest says" in result.output
    with pytest.raises(BundleError, match="decoder.onnx"):
        validate_stored(copy)


def test_refuses_existing_bundle_without_force(bundle, trained_run):
    before = (bundle / "vaedge.json").read_bytes()
    result = runner.invoke(app, ["export", str(trained_run), "--out", str(bundle)])
    assert result.exit_code == 1 and "already exists; pass --force" in result.output
    assert (bundle / "vaedge.json").read_bytes() == before
