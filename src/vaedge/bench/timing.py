"""Measuring primitives: a Row per variant, the sgemm roofline, throughput, latency, RSS, cold start."""

from __future__ import annotations

import gc
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaedge.runtime.auto import SETTLE_S

BATCHES = (1, 64, 256)


@dataclass
class Row:
    """One decoder variant: what it is (engine, precision, variant, fixed batch), and what it measured."""

    engine: str  # "Keras", "onnxruntime", "LiteRT", ...
    precision: str = "fp32"
    variant: str = ""  # "predict", "direct call", "plain tf2onnx", "optimised", ...
    file: str = ""
    batch: int | None = None  # a graph's fixed batch; None when it takes any
    size_bytes: int = 0
    images_per_s: dict = field(default_factory=dict)
    latency_p50_ms: float = float("nan")
    latency_p99_ms: float = float("nan")
    rss_delta_mb: float = float("nan")
    vs_roofline: float = float("nan")
    vs_keras_call: float = float("nan")
    settings: dict = field(default_factory=dict)  # what the engine was set to (OpenVINO: hints, threads)
    batches: tuple = BATCHES  # the batch sizes measured (TFLM: 1, what a microcontroller runs)

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.engine, self.precision, f"({self.variant})" if self.variant else "") if p)


def rss_mb() -> float:
    """Current resident set size of this process in MiB (not the high-water mark)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def sgemm_gflops(n: int = 1024, seconds: float = 1.0, runs: int = 5) -> float:
    """Best float32 GEMM rate numpy (its BLAS, all cores) reaches on an n x n product: the best of at
    least `runs` products, timed for at least `seconds`; a busy machine only lowers a run's rate."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b
    best, start = 0.0, time.perf_counter()
    count = 0
    while time.perf_counter() - start < seconds or count < runs:
        count += 1
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def throughput(decode, latents: np.ndarray, batch: int, seconds: float) -> float:
    """img/s of `decode` on batches of `batch` latents (N, D), after 3 warm-up calls."""
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


def measure(row: Row, open_decoder, latents: np.ndarray, seconds: float, file: Path | None = None, batches=None) -> Row:
    """Open a decoder (`open_decoder() -> decode(z)`) and time it into `row`; RSS growth is what it holds."""
    gc.collect()
    before = rss_mb()
    decode = open_decoder()
    time.sleep(SETTLE_S)  # the row before may have left its engine's threads spinning on both cores
    if file is not None:
        row.file, row.size_bytes = file.name, file.stat().st_size
    for batch in batches or row.batches:
        row.images_per_s[batch] = throughput(decode, latents, batch, seconds)
    row.latency_p50_ms, row.latency_p99_ms = latency(decode, latents.shape[1], seconds)
    # what opening and running it added to the resident set; 0, not negative, when the allocator reused
    # memory an earlier row had freed
    row.rss_delta_mb = max(0.0, rss_mb() - before)
    return row


def cold_start(command: list[str], png: Path, repeats: int = 3) -> float:
    """Best wall seconds from process start to a PNG on disk, over fresh subprocesses."""
    best = float("inf")
    for _ in range(repeats):
        png.unlink(missing_ok=True)
        t = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
        if not png.is_file():
            raise RuntimeError(f"{' '.join(command)} wrote no {png}")
    return best
