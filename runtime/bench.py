"""`vaedge bench`: decoder speed of every variant, side by side in one process, against the machine's limit.

The limit is a roofline: float32 GEMM GFLOP/s measured with numpy at the start of the run, divided
by the decoder's FLOPs per image (from the manifest, counted on the graph as tf2onnx wrote it).
Keras timings need TensorFlow and are added only when a run directory is given.
"""

from __future__ import annotations

import gc
import importlib.util
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vaedge.runtime.backends import OnnxModel, TFLiteModel
from vaedge.runtime.manifest import read_manifest

BATCHES = (1, 64, 256)


@dataclass
class Row:
    """One decoder variant: throughput (img/s) per batch, batch-1 sample+decode latency, size, memory."""

    name: str
    file: str = ""
    size_bytes: int = 0
    images_per_s: dict = field(default_factory=dict)
    latency_p50_ms: float = float("nan")
    latency_p99_ms: float = float("nan")
    rss_delta_mb: float = float("nan")
    vs_roofline: float = float("nan")
    vs_keras_call: float = float("nan")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def sgemm_gflops(n: int = 1024, seconds: float = 1.0) -> float:
    """Best float32 GEMM rate numpy (its BLAS, all cores) reaches on an n x n product."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def throughput(decode, latents: np.ndarray, batch: int, seconds: float) -> float:
    z = latents[:batch]
    for _ in range(3):
        decode(z)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or count < 3:
        decode(z)
        count += 1
    return batch * count / elapsed


def latency(decode, latent_dim: int, seconds: float) -> tuple[float, float]:
    """p50 and p99 in ms of host sampling (one eps) plus a batch-1 decode."""
    rng = np.random.default_rng(0)
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 20:
        t = time.perf_counter()
        decode(rng.standard_normal((1, latent_dim), dtype=np.float32))
        times.append(time.perf_counter() - t)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


def measure(name: str, open_decoder, latents, seconds: float, file: Path | None = None) -> Row:
    """Open a decoder (`open_decoder() -> decode(z)`) and time it; RSS growth is what it holds."""
    gc.collect()
    before = rss_mb()
    decode = open_decoder()
    row = Row(name, file=file.name if file else "", size_bytes=file.stat().st_size if file else 0)
    for batch in BATCHES:
        row.images_per_s[batch] = throughput(decode, latents, batch, seconds)
    row.latency_p50_ms, row.latency_p99_ms = latency(decode, latents.shape[1], seconds)
    row.rss_delta_mb = rss_mb() - before
    return row


def cold_start(command: list[str], png: Path, repeats: int = 3) -> float:
    """Best wall seconds from process start to a PNG on disk, over fresh subprocesses."""
    best = float("inf")
    for _ in range(repeats):
        png.unlink(missing_ok=True)
        t = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
        assert png.is_file()
    return best


def bench(bundle: Path, keras_run: Path | None = None, seconds: float = 0.5, threads: int | None = None) -> dict:
    """Every figure of the benchmark, as a JSON-ready dict."""
    manifest = read_manifest(bundle)
    gflops = sgemm_gflops()
    flops = int(manifest.raw.get("flops_per_image", {}).get("decoder", 0))
    roofline = gflops * 1e9 / flops if flops else float("nan")
    latents = np.random.default_rng(0).standard_normal((max(BATCHES), manifest.latent_dim), dtype=np.float32)
    rows: list[Row] = []
    if keras_run is not None:
        from vaedge.export.bench_keras import keras_decoders

        for name, open_decoder, file in keras_decoders(keras_run):
            rows.append(measure(name, open_decoder, latents, seconds, file))
    for f in manifest.files:
        if f.role != "decoder" or f.format == "npz":
            continue
        if f.format == "tflite" and importlib.util.find_spec("ai_edge_litert") is None:
            continue  # LiteRT not installed: the row is left out, not faked
        model_class = OnnxModel if f.format == "onnx" else TFLiteModel
        name = (f"onnxruntime {f.precision}" + (" (optimised)" if f.precision == "fp32" else "")
                if f.format == "onnx" else f"LiteRT {f.precision}")

        def open_decoder(path=manifest.path(f), model_class=model_class):
            model = model_class(path, threads=threads)
            return lambda z: model.run({"z": z})

        rows.append(measure(name, open_decoder, latents, seconds, manifest.path(f)))
    keras_call = next((r.images_per_s[256] for r in rows if r.name == "Keras direct call"), float("nan"))
    keras_predict_p50 = next((r.latency_p50_ms for r in rows if r.name == "Keras predict"), float("nan"))
    for row in rows:
        row.vs_roofline = row.images_per_s[256] / roofline
        row.vs_keras_call = row.images_per_s[256] / keras_call
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "cold.png"
        runtime_cold = cold_start([sys.executable, "-m", "vaedge", "generate", str(bundle), "--n", "64",
                                   "--seed", "0", "--out", str(png)], png)
        keras_cold = float("nan")
        if keras_run is not None:
            from vaedge.export.bench_keras import KERAS_COLD_START

            keras_cold = cold_start([sys.executable, "-c", KERAS_COLD_START, str(keras_run), str(png)], png)
    return {
        "bundle": str(bundle),
        "sgemm_gflops": gflops,
        "decoder_flops_per_image": flops,
        "roofline_images_per_s": roofline,
        "rows": [asdict(r) for r in rows],
        "keras_predict_batch1_p50_ms": keras_predict_p50,
        "cold_start_s": {"runtime_generate": runtime_cold, "keras_script": keras_cold,
                         "speedup": keras_cold / runtime_cold},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "settings": {"seconds_per_measurement": seconds, "threads": threads},
    }
