"""The `tflm` backend: the bundle's TFLite graphs on TensorFlow Lite Micro, through the same runtime and
CLI as every engine, from hash-checked bytes; `vaedge info` shows the micro graphs' budgets."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from vaedge import runtime
from vaedge.cli import app
from vaedge.errors import BundleError
from vaedge.runtime.boards import BOARDS, boards_that_fit
from vaedge.runtime.manifest import read_manifest

pytest.importorskip("tflite_micro")


def test_generate_on_tflm_matches_litert_within_one_output_step(micro_bundle):
    pytest.importorskip("ai_edge_litert")
    on_tflm = runtime.load(micro_bundle, backend="tflm", precision="int8")
    images, eps = on_tflm.sample(6, seed=3, return_eps=True)
    manifest = read_manifest(micro_bundle)
    decoder = next(f for f in manifest.files if f.path == "decoder.int8io.b1.tflite")
    step = decoder.quantization["image"]["scale"]
    assert images.shape == (6, *on_tflm.image_shape) and images.dtype == np.float32
    # the same file on LiteRT's builtin kernels (the family TFLM's come from; XNNPACK rounds its own way)
    from vaedge.runtime.fixed_batch import FixedBatchGraphs, HostQuantized
    from vaedge.runtime.litert_backend import TFLiteModel
    from vaedge.runtime.manifest import read_file

    engine = TFLiteModel(read_file(manifest, decoder), decoder.path, xnnpack=False)
    litert = FixedBatchGraphs({1: HostQuantized(engine, decoder.quantization)})
    assert np.abs(images - litert.run({"z": eps})["image"]).max() <= step * 1.0001
    z_mean, _ = on_tflm.encode(images[:2])
    assert np.isfinite(z_mean).all()


def test_validate_and_generate_from_the_cli_on_tflm(micro_bundle, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "generate",
            str(micro_bundle),
            "--backend",
            "tflm",
            "--precision",
            "int8",
            "--n",
            "2",
            "--seed",
            "0",
            "--out",
            str(tmp_path / "grid.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grid.png").stat().st_size > 0
    result = CliRunner().invoke(app, ["validate", str(micro_bundle), "--backend", "tflm"])
    assert result.exit_code == 0, result.output
    assert "(tflm)" in result.output


def test_tflm_loads_only_hash_checked_bytes(micro_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(micro_bundle, copy)
    target = copy / read_manifest(copy).micro["decoder"].file
    data = bytearray(target.read_bytes())
    data[-1] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256"):
        runtime.load(copy, backend="tflm", precision="int8")


def test_info_shows_each_micro_graph_with_the_boards_it_fits(micro_bundle):
    result = CliRunner().invoke(app, ["info", str(micro_bundle), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["role"]: row for row in json.loads(result.output)["micro"]}
    micro = read_manifest(micro_bundle).micro
    assert sorted(rows) == sorted(micro)
    for role, row in rows.items():
        assert (row["arena_bytes"], row["flash_bytes"]) == (micro[role].arena_bytes, micro[role].flash_bytes)
        fits = [b for b in BOARDS if b.ram >= row["arena_bytes"] and b.flash >= row["flash_bytes"]]
        assert row["fits"] == [b.short for b in fits]
    assert [b.short for b in boards_that_fit(200 * 1024, 900 * 1024)] == [
        "nRF52840",
        "RP2040",
        "STM32F746",
        "Apollo3",
        "ESP32-S3",
    ]
    assert boards_that_fit(600 * 1024, 100) == []
