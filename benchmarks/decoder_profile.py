"""Where the fp32 decoder's time goes, per node, on each engine; and onnxruntime's session settings A/B'd.

- onnxruntime: its profiler's per-node kernel time (the bundle's `decoder.onnx`, the session the runtime opens);
- OpenVINO: its per-layer performance counters (PERF_COUNT), with the runtime's own settings;
- onnxruntime session settings, each a session of its own, timed in interleaved rounds (median img/s).

    .venv/bin/python benchmarks/decoder_profile.py bundles/quickstart --markdown
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import tempfile
import time

import numpy as np

from vaedge.runtime.manifest import read_all, read_manifest

BATCHES = (1, 64, 256)


def ort_profile(model: bytes, batch: int, calls: int = 30) -> dict[str, float]:
    """{op type and node: mean microseconds per call} from onnxruntime's profiler."""
    import onnxruntime as ort

    from vaedge.runtime.onnx_backend import session_options

    options = session_options(None)
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = os.path.join(tmp, "profile")
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        z = np.random.default_rng(0).standard_normal((batch, 2)).astype(np.float32)
        for _ in range(calls):
            session.run(None, {"z": z})
        with open(session.end_profiling()) as f:
            events = json.load(f)
    total: dict[str, float] = collections.defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            total[f"{event['args']['op_name']} {event['name'].removesuffix('_kernel_time')}"] += event["dur"]
    return {k: v / calls for k, v in total.items()}


def openvino_profile(model: bytes, batch: int, calls: int = 30) -> dict[str, float]:
    """{layer type and name: mean microseconds per call} from OpenVINO's performance counters."""
    from vaedge.runtime.openvino_backend import core

    compiled = core().compile_model(
        core().read_model(model),
        "CPU",
        {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32", "PERF_COUNT": True},
    )
    request = compiled.create_infer_request()
    z = np.random.default_rng(0).standard_normal((batch, 2)).astype(np.float32)
    total: dict[str, float] = collections.defaultdict(float)
    for _ in range(calls):
        request.infer({0: z})
        for info in request.profiling_info:
            total[f"{info.node_type} {info.node_name}"] += info.real_time.total_seconds() * 1e6
    return {k: v / calls for k, v in total.items() if v > 0}


def ort_settings() -> dict[str, dict]:
    """Session settings to A/B: {name: {SessionOptions attribute or config key: value}}."""
    return {
        "runtime default (ORT_ENABLE_ALL)": {},
        "ORT_ENABLE_EXTENDED (no NCHWc layout)": {"graph_optimization_level": "ORT_ENABLE_EXTENDED"},
        "no memory arena": {"enable_cpu_mem_arena": False},
        "no spin-wait": {"config:session.intra_op.allow_spinning": "0"},
        "1 thread": {"intra_op_num_threads": 1},
    }


def ort_session(model: bytes, settings: dict):
    import onnxruntime as ort

    from vaedge.runtime.onnx_backend import session_options

    options = session_options(None)
    for key, value in settings.items():
        if key.startswith("config:"):
            options.add_session_config_entry(key.removeprefix("config:"), value)
        elif key == "graph_optimization_level":
            options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, value)
        else:
            setattr(options, key, value)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def rate(session, z: np.ndarray, seconds: float) -> float:
    session.run(None, {"z": z})
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        session.run(None, {"z": z})
        calls += 1
    return len(z) * calls / (time.perf_counter() - start)


def table(profiles: dict[int, dict[str, float]], top: int) -> list[str]:
    """Markdown rows: node, then microseconds and share at each batch size, the largest at batch 256 first."""
    largest = max(profiles)
    order = sorted(profiles[largest], key=lambda k: -profiles[largest][k])[:top]
    lines = ["| node | " + " | ".join(f"b={b} µs (share)" for b in profiles) + " |"]
    lines.append("| --- |" + " ---: |" * len(profiles))
    for node in order:
        cells = []
        for b, profile in profiles.items():
            total = sum(profile.values()) or 1.0
            cells.append(f"{profile.get(node, 0):,.0f} ({100 * profile.get(node, 0) / total:.0f}%)")
        lines.append(f"| `{node[:60]}` | " + " | ".join(cells) + " |")
    lines.append("| total | " + " | ".join(f"{sum(p.values()):,.0f}" for p in profiles.values()) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    manifest = read_manifest(args.bundle)
    file = manifest.find("decoder", "onnx", "fp32")
    model = read_all(manifest)[file.path]
    print(f"### onnxruntime, `{file.path}`, per-node kernel time\n")
    print("\n".join(table({b: ort_profile(model, b) for b in BATCHES}, args.top)))
    try:
        openvino = {b: openvino_profile(model, b) for b in BATCHES}
    except ImportError:
        openvino = None
    if openvino:
        print(f"\n### OpenVINO, `{file.path}`, per-layer counters\n")
        print("\n".join(table(openvino, args.top)))
    sessions = {name: ort_session(model, s) for name, s in ort_settings().items()}
    z = np.random.default_rng(0).standard_normal((256, manifest.latent_dim)).astype(np.float32)
    samples = {name: {b: [] for b in BATCHES} for name in sessions}
    for round_ in range(args.rounds):
        order = list(sessions)
        random.Random(round_).shuffle(order)
        for name in order:
            for b in BATCHES:
                samples[name][b].append(rate(sessions[name], z[:b], args.seconds))
    print("\n### onnxruntime session settings (median img/s over interleaved rounds)\n")
    print("| settings | " + " | ".join(f"b={b}" for b in BATCHES) + " |")
    print("| --- |" + " ---: |" * len(BATCHES))
    for name, by_batch in samples.items():
        print(f"| {name} | " + " | ".join(f"{np.median(v):,.0f}" for v in by_batch.values()) + " |")


if __name__ == "__main__":
    main()
