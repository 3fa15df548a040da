"""The default path (`runtime.load(bundle)`, backend "auto") against every installed engine forced, per precision.

One process, interleaved rounds: each round times every (precision, engine) generator's `decode` once at each
batch size, each of those slices in a shuffled place (seeded) and after untimed calls, so a burst of load,
and the threads an engine just used still spinning, hit them alike; the report gives median img/s and the
default's ratio to the fastest forced engine of its precision (and int8's default to fp32's fastest).

    .venv/bin/python benchmarks/default_engine.py bundles/quickstart --precision fp32 --precision int8
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np

from vaedge import runtime
from vaedge.runtime.backends import installed_backends
from vaedge.runtime.manifest import read_manifest

BATCHES = (1, 64, 256)


def rate(generator, z: np.ndarray, seconds: float) -> float:
    """img/s of `generator.decode(z)` over `seconds`, after a quarter of that spent on untimed calls: the
    slice before was another engine's, whose threads may still spin and whose cache lines this one needs."""
    start = time.perf_counter()
    while time.perf_counter() - start < seconds / 4:
        generator.decode(z)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        generator.decode(z)
        calls += 1
    return len(z) * calls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--precision", action="append")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.4)
    args = parser.parse_args()
    manifest = read_manifest(args.bundle)
    generators = {}
    for precision in args.precision or ["fp32"]:
        generators[(precision, "default")] = runtime.load(args.bundle, precision=precision)
        for row in installed_backends():
            if row.batches is None and manifest.find_all("decoder", row.format, precision):
                generators[(precision, row.name)] = runtime.load(args.bundle, backend=row.name, precision=precision)
    for (precision, name), generator in generators.items():
        if name == "default":
            print(f"{precision} default: {generator.engine}")
    z = np.random.default_rng(0).standard_normal((max(BATCHES), manifest.latent_dim)).astype(np.float32)
    samples = {key: {b: [] for b in BATCHES} for key in generators}
    slices = [(key, b) for key in generators for b in BATCHES]
    order = random.Random(0)
    for _ in range(args.rounds):  # each (engine, batch) slice in its own place: none always follows the same one
        for key, b in order.sample(slices, len(slices)):
            samples[key][b].append(rate(generators[key], z[:b], args.seconds))
    median = {key: {b: float(np.median(v)) for b, v in s.items()} for key, s in samples.items()}
    print("| precision | engine | " + " | ".join(f"img/s b={b}" for b in BATCHES) + " |")
    print("| --- | --- |" + " ---: |" * len(BATCHES))
    for (precision, name), by_batch in median.items():
        print(f"| {precision} | {name} | " + " | ".join(f"{v:,.0f}" for v in by_batch.values()) + " |")
    fastest = {}
    for precision in dict.fromkeys(p for p, _ in median):
        forced = {name: m for (p, name), m in median.items() if p == precision and name != "default"}
        fastest[precision] = {b: max(m[b] for m in forced.values()) for b in BATCHES}
        ratios = ", ".join(f"b={b} {median[(precision, 'default')][b] / fastest[precision][b]:.2f}x" for b in BATCHES)
        print(f"{precision}: default / fastest forced engine: {ratios}")
    if "int8" in fastest and "fp32" in fastest:
        ratios = ", ".join(f"b={b} {median[('int8', 'default')][b] / fastest['fp32'][b]:.2f}x" for b in BATCHES)
        print(f"int8 default / fastest fp32 engine: {ratios}")


if __name__ == "__main__":
    main()
