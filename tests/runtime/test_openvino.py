"""The openvino backend on a real bundle: same results as onnxruntime on the same eps, its settings,
the device error, `vaedge validate --backend openvino` and the bench rows; its one-channel depthwise form."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip(
    "openvino",
    reason="OpenVINO is not installed (pip install 'vaedge[openvino]'); the runtime-only venv runs without it",
)

from vaedge import runtime  # noqa: E402
from vaedge.cli import app  # noqa: E402
from vaedge.errors import BundleError, InputError  # noqa: E402
from vaedge.runtime.openvino_backend import DEVICES, OpenVinoModel, core, one_channel_depthwise  # noqa: E402
from vaedge.runtime.parity import IMAGE_GATE, psnr  # noqa: E402

runner = CliRunner()
# Measured on this bundle: images 1.8e-7, latents 3.4e-7 (OpenVINO CPU with f32 pinned vs onnxruntime CPU),
# so the image gate holds for latents too.
GATE = IMAGE_GATE


@pytest.fixture(scope="module")
def engines(bundle):
    return runtime.load(bundle, backend="onnx"), runtime.load(bundle, backend="openvino")


def max_abs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def test_same_results_as_onnxruntime_on_the_same_eps(engines):
    ort, ov = engines
    images, eps = ov.sample(300, seed=0, return_eps=True)  # more than one chunk of 256
    ort_images, ort_eps = ort.sample(300, seed=0, return_eps=True)
    np.testing.assert_array_equal(eps, ort_eps)
    assert max_abs(images, ort_images) <= GATE
    assert max(max_abs(a, b) for a, b in zip(ov.encode(images), ort.encode(images))) <= GATE
    uint8 = (images[:7] * 255).astype(np.uint8)
    assert max(max_abs(a, b) for a, b in zip(ov.encode(uint8), ort.encode(uint8))) <= GATE
    recon, recon_eps = ov.reconstruct(images[:40], seed=1, return_eps=True)
    ort_recon, ort_recon_eps = ort.reconstruct(images[:40], seed=1, return_eps=True)
    np.testing.assert_array_equal(recon_eps, ort_recon_eps)
    assert max_abs(recon, ort_recon) <= GATE
    assert max_abs(ov.reconstruct(images[:5], sample=False), ort.reconstruct(images[:5], sample=False)) <= GATE
    assert max_abs(ov.interpolate(images[0], images[1], 10), ort.interpolate(images[0], images[1], 10)) <= GATE
    assert max_abs(ov.latent_grid(20), ort.latent_grid(20)) <= GATE
    assert ov.interpolate(images[0], images[1], 10).shape == (10, 28, 28, 1)


def test_settings_are_pinned_and_recorded(bundle, engines):
    _, ov = engines
    assert ov.backend == "openvino" and ov.providers == ["OpenVINO CPU"]
    for model in (ov.encoder, ov.decoder):
        assert model.settings["inference_precision_hint"] == "f32"  # not bf16, whatever the CPU has
        assert model.settings["performance_hint"] == "LATENCY" and model.settings["device"] == "CPU"
    one = runtime.load(bundle, backend="openvino", threads=1, device="cpu")
    assert one.decoder.settings["inference_num_threads"] == 1 and one.decoder.settings["num_streams"] == 1
    auto = runtime.load(bundle, backend="openvino", device="AUTO")
    assert auto.decoder.settings["device"] == "AUTO" and auto.decoder.settings["performance_hint"] == "LATENCY"
    assert auto.decoder.settings["execution_devices"] and auto.providers[0].startswith("OpenVINO ")
    assert auto.sample(4, seed=0).shape == (4, 28, 28, 1)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precision_files_meet_the_psnr_gate(bundle, engines, precision):
    ort, _ = engines
    ov = runtime.load(bundle, backend="openvino", precision=precision)
    images = ort.sample(64, seed=2)
    assert psnr(ov.sample(64, seed=2), images) >= 30
    # both graphs of the variant in a chain, on onnxruntime running the very same files
    same_files = runtime.load(bundle, backend="onnx", precision=precision)
    assert psnr(ov.reconstruct(images, sample=False), same_files.reconstruct(images, sample=False)) >= 30


def missing_device() -> str:
    present = {d.split(".")[0] for d in core().available_devices}
    missing = [d for d in DEVICES if d != "AUTO" and d not in present]
    if not missing:
        pytest.skip(f"this machine has every OpenVINO device ({core().available_devices})")
    return missing[0]


def test_unavailable_device_lists_what_exists(bundle, tmp_path):
    device = missing_device()
    with pytest.raises(InputError, match=f"OpenVINO device {device} is not available; this machine has .*CPU"):
        runtime.load(bundle, backend="openvino", device=device)
    result = runner.invoke(
        app,
        [
            "generate",
            str(bundle),
            "--n",
            "4",
            "--backend",
            "openvino",
            "--device",
            device,
            "--out",
            str(tmp_path / "g.png"),
        ],
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"OpenVINO device {device} is not available" in result.output and not (tmp_path / "g.png").exists()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backend": "openvino", "device": "TPU"}, "device must be one of CPU, GPU, NPU, AUTO"),
        ({"backend": "openvino", "device": 0}, "device must be one of"),
        ({"backend": "onnx", "device": "CPU"}, "device applies to the openvino backend, not onnx"),
        ({"backend": "openvino", "providers": ["CPUExecutionProvider"]}, "providers apply to the onnx backend"),
    ],
)
def test_bad_engine_options_are_input_errors(bundle, kwargs, message):
    with pytest.raises(InputError, match=message):
        runtime.load(bundle, **kwargs)


def test_a_tampered_file_is_refused_before_openvino_opens_it(bundle, tmp_path):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    data = bytearray((copy / "decoder.onnx").read_bytes())
    data[-10] ^= 0xFF
    (copy / "decoder.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="decoder.onnx.*sha256"):
        runtime.load(copy, backend="openvino")


def test_a_graph_openvino_cannot_read_is_a_bundle_error():
    from vaedge.runtime.openvino_backend import OpenVinoModel

    # A node with a valid op but no inputs passes the op scan; OpenVINO's ONNX frontend refuses it.
    node = b"\x22\x04Relu\x12\x01y"  # NodeProto: op_type (4) = Relu, output (2) = y
    graph = b"\x0a" + bytes([len(node)]) + node
    model = b"\x08\x08" + b"\x3a" + bytes([len(graph)]) + graph  # ir_version 8, graph (7)
    with pytest.raises(BundleError, match="broken.onnx: OpenVINO cannot load it \\(Unable to read the model"):
        OpenVinoModel(model, "broken.onnx")


def test_validate_runs_openvino_against_the_stored_reference(bundle, tmp_path):
    result = runner.invoke(
        app, ["validate", str(bundle), "--backend", "onnx", "--backend", "openvino", "--json", str(tmp_path / "v.json")]
    )
    assert result.exit_code == 0, result.output
    checks = json.loads((tmp_path / "v.json").read_text())["checks"]
    files = {c["file"] for c in checks}
    assert {
        "decoder.onnx",
        "decoder.onnx (openvino)",
        "encoder.onnx (openvino)",
        "decoder.int8.onnx (openvino)",
        "encoder+decoder (openvino, fp32)",
    } <= files
    assert not any(f.endswith(".tflite") for f in files)
    for c in checks:
        if c["file"] in ("decoder.onnx (openvino)", "encoder.onnx (openvino)") and c["metric"] == "max_abs":
            assert c["gate"] in (1e-5, 1e-4) and c["value"] <= c["gate"] and c["passed"]
    bad = runner.invoke(app, ["validate", str(bundle), "--backend", "torch"])
    assert bad.exit_code == 1 and "unknown backend" in bad.output and "Traceback" not in bad.output


def test_validate_runs_openvino_against_fresh_keras(bundle, request, tmp_path):
    pytest.importorskip("tensorflow")
    trained_run = request.getfixturevalue("trained_run")
    result = runner.invoke(
        app,
        [
            "validate",
            str(bundle),
            "--keras",
            str(trained_run),
            "--backend",
            "openvino",
            "--json",
            str(tmp_path / "v.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    checks = json.loads((tmp_path / "v.json").read_text())["checks"]
    assert checks and all(c["file"].endswith("(openvino)") or "openvino" in c["file"] for c in checks)
    assert all(c["passed"] for c in checks)


def test_bench_has_openvino_rows_for_every_onnx_decoder(bundle):
    from vaedge.bench.run import bundle_rows
    from vaedge.bench.timing import measure
    from vaedge.runtime.manifest import read_manifest

    sources = list(bundle_rows(read_manifest(bundle), threads=None))
    rows = {row.name: (row, open_decoder, file) for row, open_decoder, file in sources}
    latents = np.random.default_rng(0).standard_normal((256, 2), dtype=np.float32)
    for name in ("OpenVINO fp32 (optimised)", "OpenVINO fp16", "OpenVINO int8"):
        row, open_decoder, file = rows[name]
        measure(row, open_decoder, latents, 0.01, file)  # the real engine, timed briefly
        assert all(row.images_per_s[b] > 0 for b in (1, 64, 256)) and row.latency_p50_ms > 0
        assert row.settings["performance_hint"] == "LATENCY" and row.settings["device"] == "CPU"
        assert row.file == rows["onnxruntime" + name[len("OpenVINO") :]][2].name


@pytest.mark.parametrize(
    "c_out, stride, pads, rewritten",
    [
        (1, 1, [1, 1, 1, 1], 1),  # the course decoder's last layer, here the graph's output itself
        (1, 1, [0, 0, 0, 0], 1),  # grows the image by 2
        (1, 1, [0, 1, 2, 1], 1),  # an uneven crop
        (1, 2, [0, 0, 1, 1], 0),  # strided: left to OpenVINO's own kernel
        (3, 1, [1, 1, 1, 1], 0),  # three channels: left alone
    ],
)
def test_one_channel_conv_transpose_runs_as_a_depthwise_conv_with_the_same_results(c_out, stride, pads, rewritten):
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(c_out + stride)
    weight, bias = rng.standard_normal((6, c_out, 3, 3)).astype(np.float32), rng.standard_normal(c_out)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["image"], strides=[stride] * 2, pads=pads)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 7, 7])],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", c_out, "H", "W"])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias.astype(np.float32), "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    data = model.SerializeToString()
    assert one_channel_depthwise(core().read_model(data)) == rewritten
    x = rng.standard_normal((3, 6, 7, 7)).astype(np.float32)
    expected = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    engine = OpenVinoModel(data, "one-channel.onnx")
    assert engine.output_names == ["image"]
    assert max_abs(engine.run({"x": x})["image"], expected) < 1e-5
