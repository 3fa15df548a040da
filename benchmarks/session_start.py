"""Session start: onnxruntime from a bundle's .onnx files vs their .ort form (export/ort_format.py).

Each round opens every graph of the bundle that has both forms once per form, in a shuffled order,
each in a fresh process (a session start in a warm process would share onnxruntime's one-time set-up),
and times `InferenceSession(bytes)` plus the first call inside that process. The report gives the
median over rounds per graph and form, and the .ort/.onnx ratio; the load (`os.getloadavg`) is
printed beside it, since a busy machine moves these figures.

    .venv/bin/python benchmarks/session_start.py BUNDLE --rounds 15 --json start.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

ONE_START = """
import sys, time
import numpy as np
import onnxruntime as ort
from vaedge.runtime.onnx_backend import session_options
data = open(sys.argv[1], "rb").read()
start = time.perf_counter()
session = ort.InferenceSession(data, session_options(), providers=["CPUExecutionProvider"])
created = time.perf_counter()
feed = session.get_inputs()[0]
shape = [1 if not isinstance(d, int) else d for d in feed.shape]
session.run(None, {feed.name: np.zeros(shape, np.float32)})
print(created - start, time.perf_counter() - start)
"""


def pairs(bundle: Path) -> list[tuple[str, str]]:
    """(x.onnx, x.ort) of every graph the bundle's manifest lists in both forms."""
    from vaedge.runtime.manifest import read_manifest

    files = read_manifest(bundle).files
    ort = {f.extra.get("source"): f.path for f in files if f.format == "ort"}
    return [(f.path, ort[f.path]) for f in files if f.format == "onnx" and f.path in ort]


def one_start(path: Path) -> tuple[float, float]:
    """(seconds to create the session, seconds to create it and run one call) in a fresh process."""
    out = subprocess.run([sys.executable, "-c", ONE_START, str(path)], capture_output=True, text=True, check=True)
    created, first_call = map(float, out.stdout.split())
    return created, first_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    graphs = pairs(args.bundle)
    if not graphs:
        sys.exit(f"error: {args.bundle} has no .ort files (export it again with this vaedge)")
    load_before = os.getloadavg()
    times: dict[str, list[tuple[float, float]]] = {name: [] for pair in graphs for name in pair}
    rng = random.Random(0)
    for _ in range(args.rounds):
        order = [name for pair in graphs for name in pair]
        rng.shuffle(order)
        for name in order:
            times[name].append(one_start(args.bundle / name))
    rows = []
    for onnx, ort in graphs:
        median = {n: [statistics.median(t[i] for t in times[n]) for i in (0, 1)] for n in (onnx, ort)}
        rows.append(
            {
                "graph": onnx.removesuffix(".onnx"),
                "onnx_session_ms": round(1000 * median[onnx][0], 2),
                "ort_session_ms": round(1000 * median[ort][0], 2),
                "onnx_first_call_ms": round(1000 * median[onnx][1], 2),
                "ort_first_call_ms": round(1000 * median[ort][1], 2),
                "ratio_session": round(median[ort][0] / median[onnx][0], 3),
            }
        )
    report = {"rounds": args.rounds, "load_before": load_before, "load_after": os.getloadavg(), "graphs": rows}
    print(f"{'graph':<16}{'.onnx ms':>10}{'.ort ms':>10}{'ratio':>8}   (session created; median of {args.rounds})")
    for row in rows:
        print(f"{row['graph']:<16}{row['onnx_session_ms']:>10}{row['ort_session_ms']:>10}{row['ratio_session']:>8}")
    print(f"load average before {load_before}, after {report['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
