"""`vaedge bench` reports every figure (no timing is asserted: that is the benchmark's job, not a test's)."""

from __future__ import annotations

import json
from importlib.util import find_spec

import pytest
from PIL import Image
from typer.testing import CliRunner

from vaedge.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def bench_run(bundle, request, tmp_path_factory):
    """One in-process `vaedge bench` for the module: with `--keras` where TensorFlow is installed (the
    venv without it, .ci/run's second, benches the bundle alone)."""
    keras = ["--keras", str(request.getfixturevalue("trained_run"))] if find_spec("tensorflow") else []
    out = tmp_path_factory.mktemp("bench")
    files = ["--json", str(out / "b.json"), "--plot", str(out / "b.png")]
    result = runner.invoke(app, ["bench", str(bundle), *keras, "--seconds", "0.02", "--cold-starts", "1", *files])
    assert result.exit_code == 0, result.output
    with Image.open(out / "b.png") as png:
        assert png.size[0] == 900
    return result, json.loads((out / "b.json").read_text())


def test_bench_reports_every_variant_against_the_roofline(bench_run):
    result, report = bench_run
    assert report["sgemm_gflops"] > 0 and report["decoder_flops_per_image"] == 11_302_144
    assert report["roofline_images_per_s"] == pytest.approx(report["sgemm_gflops"] * 1e9 / 11_302_144)
    names = [row["name"] for row in report["rows"]]
    assert {"onnxruntime fp32 (optimised)", "onnxruntime fp16", "onnxruntime int8"} <= set(names)
    auto = {row["precision"]: row for row in report["rows"] if row["engine"] == "auto"}
    assert set(auto) == {"fp32", "fp16", "int8"}  # what runtime.load runs by default, beside each engine
    from vaedge.runtime.backends import installed_backends

    assert set(auto["int8"]["settings"]["picks"].values()) <= {b.name for b in installed_backends()}
    for row in report["rows"]:
        measured = (1,) if row["engine"] == "TFLM" else (1, 64, 256)  # TFLM: a microcontroller's batch
        assert sorted(row["images_per_s"]) == sorted(map(str, measured))
        assert all(row["images_per_s"][str(b)] > 0 for b in measured)
        assert 0 < row["latency_p50_ms"] <= row["latency_p99_ms"]
        assert row["size_bytes"] > 0 or not row["file"]  # rows over several fixed-batch files name none
    assert report["cold_start_s"]["runtime_generate"] > 0 and report["settings"]["cold_starts"] == 1
    assert "roofline" in result.output and "cold start to PNG" in result.output


def test_bench_with_keras_adds_keras_and_plain_tf2onnx(bench_run):
    pytest.importorskip("tensorflow")
    _, report = bench_run
    rows = {(row["engine"], row["variant"]): row for row in report["rows"]}
    assert {("Keras", "predict"), ("Keras", "direct call"), ("onnxruntime", "plain tf2onnx")} <= set(rows)
    assert rows["Keras", "direct call"]["vs_keras_call"] == pytest.approx(1.0)
    assert rows["onnxruntime", "plain tf2onnx"]["name"] == "onnxruntime fp32 (plain tf2onnx)"
    assert report["cold_start_s"]["keras_script"] > 0 and report["cold_start_s"]["speedup"] > 0
