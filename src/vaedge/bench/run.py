"""The whole benchmark: every decoder variant of a bundle (and Keras, given a run) in one process.

The limit is a roofline: float32 GEMM GFLOP/s measured with numpy at the start of the run, divided
by the decoder's FLOPs per image (from the manifest, counted on the graph as tf2onnx wrote it).
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from vaedge import progress
from vaedge.bench.timing import BATCHES, Row, cold_start, measure, sgemm_gflops
from vaedge.runtime.backends import REGISTRY, installed_backends, open_bundle_file, open_role
from vaedge.runtime.manifest import Manifest, read_manifest
from vaedge.runtime.options import EngineOptions


def bundle_rows(manifest: Manifest, threads: int | None):
    """(Row, open() -> decode(z), file) for every decoder graph in the bundle on every installed engine
    that runs it (each ONNX decoder on onnxruntime, then on OpenVINO's CPU)."""
    for f in manifest.files:
        if f.role != "decoder":
            continue
        for backend in installed_backends(f.format):  # a missing engine's row is left out, not faked
            if backend.batches is not None and f.batch not in backend.batches:
                continue  # e.g. TFLM runs the batch-1 graphs a microcontroller runs
            variant = "optimised" if f.format == "onnx" and f.precision == "fp32" else ""
            variant = "ORT format" if f.format == "ort" else variant
            if f.format == "tflite":
                variant = ("int8 I/O, " if f.quantization else "") + (
                    f"fixed b{f.batch}" if f.batch else "dynamic batch"
                )
            row = Row(backend.display, f.precision, variant, batch=f.batch)
            if backend.batches is not None:  # TFLM's reference kernels: the batch a microcontroller runs
                row.batches = tuple(b for b in BATCHES if b in backend.batches)

            def open_decoder(f=f, backend=backend, row=row):
                model = open_bundle_file(manifest, f, options=EngineOptions(backend.name, threads=threads))
                row.settings = dict(model.settings)  # e.g. OpenVINO's hints and threads, as compiled
                return lambda z: model.run({"z": z})["image"]

            yield row, open_decoder, manifest.path(f)
    if any(b.name == "tflite" for b in installed_backends()):
        yield from chunked_tflite_rows(manifest, threads)
    yield from auto_rows(manifest, threads)


def chunked_tflite_rows(manifest: Manifest, threads: int | None):
    """(Row, open, file) per TFLite precision as `runtime.load(backend="tflite")` runs it: its fixed-batch
    graphs picked per chunk (vaedge.runtime.fixed_batch.plan), the last piece padded."""
    for precision in dict.fromkeys(f.precision for f in manifest.files if f.format == "tflite" and f.role == "decoder"):

        def open_decoder(precision=precision):
            model = open_role(manifest, "decoder", EngineOptions("tflite", precision, threads=threads))
            return lambda z: model.run({"z": z})["image"]

        graphs = manifest.find_all("decoder", "tflite", precision)
        size = sum(f.size for f in ([f for f in graphs if f.quantization] or graphs))  # the set it opens
        yield Row("LiteRT", precision, "runtime: fixed batches by chunk", size_bytes=size), open_decoder, None


def decoder_files(manifest: Manifest, precision: str, backends) -> list:
    """The decoder files at `precision` that the named backends open (TFLite: the int8-I/O set if any)."""
    files = []
    for format in {REGISTRY[name].format for name in backends}:
        graphs = manifest.find_all("decoder", format, precision)
        files += [f for f in graphs if f.quantization] or graphs
    return files


def auto_rows(manifest: Manifest, threads: int | None):
    """(Row, open, None) per decoder precision as `runtime.load()` runs it by default (backend="auto"): per
    batch size, the engine measured fastest (the measurement cached per user, as the runtime keeps it)."""
    from vaedge.runtime.auto import open_auto

    for precision in dict.fromkeys(f.precision for f in manifest.files if f.role == "decoder"):
        row = Row("auto", precision, "runtime default: fastest engine per batch")

        def open_decoder(precision=precision, row=row):
            _, decoder, choice = open_auto(manifest, {}, EngineOptions(precision=precision, threads=threads))
            row.settings = choice.as_dict()  # which engine each batch size ran on, and the img/s behind it
            row.size_bytes = sum(f.size for f in decoder_files(manifest, precision, row.settings["picks"].values()))
            return lambda z: decoder.run({"z": z})["image"]

        yield row, open_decoder, None


def bench(
    bundle: Path, keras_run: Path | None = None, seconds: float = 0.5, threads: int | None = None, cold_starts: int = 3
) -> dict:
    """Every figure of the benchmark, as a JSON-ready dict; each cold start the best of `cold_starts` processes."""
    manifest = read_manifest(bundle)
    progress.step("GEMM rate of this machine")
    gflops_before = sgemm_gflops()
    flops = manifest.flops_per_image("decoder")
    latents = np.random.default_rng(0).standard_normal((max(BATCHES), manifest.latent_dim), dtype=np.float32)
    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        sources = []
        if keras_run is not None:
            from vaedge.bench.keras_rows import keras_decoders

            progress.step("loading the Keras decoder and plain tf2onnx")
            sources += stack.enter_context(keras_decoders(keras_run, threads))
        sources += list(bundle_rows(manifest, threads))
        # measure's collection before each row then walks only what the rows made, not all of TensorFlow's
        # and Keras' objects
        gc.collect()
        gc.freeze()
        stack.callback(gc.unfreeze)
        for row, open_decoder, file in sources:
            progress.step(f"timing {row.name}")
            rows.append(measure(row, open_decoder, latents, seconds, file))
    progress.step("GEMM rate again")
    gflops_after = sgemm_gflops()
    gflops = max(gflops_before, gflops_after)  # load only lowers it: the better of before and after
    roofline = gflops * 1e9 / flops if flops else float("nan")
    keras_call = next((r for r in rows if (r.engine, r.variant) == ("Keras", "direct call")), None)
    keras_predict = next((r for r in rows if (r.engine, r.variant) == ("Keras", "predict")), None)
    for row in rows:
        largest = row.images_per_s.get(256, float("nan"))  # rows measured at batch 1 only have none
        row.vs_roofline = largest / roofline
        row.vs_keras_call = largest / keras_call.images_per_s[256] if keras_call else float("nan")
    progress.step("cold start to a PNG, fresh processes")
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "cold.png"
        runtime_cold = cold_start(
            [sys.executable, "-m", "vaedge", "generate", str(bundle), "--n", "64", "--seed", "0", "--out", str(png)],
            png,
            cold_starts,
        )
        keras_cold = float("nan")
        if keras_run is not None:
            from vaedge.bench.keras_rows import KERAS_COLD_START

            script = [sys.executable, "-c", KERAS_COLD_START, str(keras_run), str(png)]
            keras_cold = cold_start(script, png, cold_starts)
    return {
        "bundle": str(bundle),
        "sgemm_gflops": gflops,
        "sgemm_gflops_before_after": [gflops_before, gflops_after],
        "load_average": list(os.getloadavg()),  # 1, 5, 15 min: other work on the machine skews every figure
        "decoder_flops_per_image": flops,
        "roofline_images_per_s": roofline,
        "rows": [{"name": r.name, **asdict(r)} for r in rows],
        "keras_predict_batch1_p50_ms": keras_predict.latency_p50_ms if keras_predict else float("nan"),
        "cold_start_s": {
            "runtime_generate": runtime_cold,
            "keras_script": keras_cold,
            "speedup": keras_cold / runtime_cold,
        },
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "settings": {"seconds_per_measurement": seconds, "threads": threads, "cold_starts": cold_starts},
    }
