"""What each decoder optimisation buys: every graph step A/B'd in one process, interleaved rounds.

Each round times every variant once (1 s each, at batch 1 and 256), in a shuffled order; the
report gives the median img/s over rounds and the ratio to plain tf2onnx, so machine noise hits all
variants alike.

    .venv/bin/python benchmarks/optimizations.py runs/fm --data ../shared/data/fashion-mnist --json opt.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

from vaedge.bench.timing import sgemm_gflops  # noqa: E402
from vaedge.export import convert, quantize  # noqa: E402
from vaedge.export.depthwise import one_channel_depthwise  # noqa: E402
from vaedge.export.flops import flops_per_image  # noqa: E402
from vaedge.export.optimize import cumulative  # noqa: E402
from vaedge.export.sources import from_run  # noqa: E402
from vaedge.export.subpixel import subpixel_conv_transpose  # noqa: E402
from vaedge.runtime.backends import session_options  # noqa: E402
from vaedge.train.data import load_dataset  # noqa: E402


def variants(run: str, data: str) -> tuple[dict, int]:
    """{name: (decoder graph, threads)} for every pass of export's list in turn, and the FLOPs per image."""
    source = from_run(run)
    raw = convert.to_onnx(convert.decoder_function(source))
    found = {"plain tf2onnx": (raw, None)}
    optimised = raw
    for name, optimised in cumulative(raw):
        found[f"+ {name}"] = (optimised, None)
    images = load_dataset(data, image_size=source.image_shape[:2], channels=source.image_shape[2], limit=256).x_train
    calibration = quantize.calibration_data(source, images, seed=0)["decoder"]  # export's own recipe
    found.update(
        {
            "fp32 default (all passes)": (optimised, None),
            "fp32 sub-pixel (rejected)": (subpixel_conv_transpose(optimised), None),
            "fp32 one-channel depthwise (rejected)": (one_channel_depthwise(optimised), None),
            "fp32 default, 1 thread": (optimised, 1),
            "int8 QDQ on ConvTranspose": (quantize.to_int8(optimised, calibration), None),
            "int8 QDQ sub-pixel (int8 default)": (
                quantize.to_int8(subpixel_conv_transpose(optimised), calibration),
                None,
            ),
        }
    )
    return found, flops_per_image(raw)


def session(model, threads):
    return ort.InferenceSession(model.SerializeToString(), session_options(threads), providers=["CPUExecutionProvider"])


def rate(sess, z, seconds) -> float:
    for _ in range(3):
        sess.run(None, {"z": z})
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        sess.run(None, {"z": z})
        count += 1
    return len(z) * count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--data", default="fashion_mnist")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    graphs, flops = variants(args.run, args.data)
    sessions = {name: session(model, threads) for name, (model, threads) in graphs.items()}
    z = np.random.default_rng(0).standard_normal((256, 2), dtype=np.float32)
    samples = {name: {1: [], 256: []} for name in sessions}
    gflops = []
    for round_ in range(args.rounds):
        gflops.append(sgemm_gflops(seconds=0.3))
        order = list(sessions)
        random.Random(round_).shuffle(order)
        for name in order:
            for batch in (1, 256):
                samples[name][batch].append(rate(sessions[name], z[:batch], args.seconds))
    median = {name: {b: float(np.median(v)) for b, v in s.items()} for name, s in samples.items()}
    base = median["plain tf2onnx"]
    roofline = float(np.median(gflops)) * 1e9 / flops
    report = {
        "rounds": args.rounds,
        "sgemm_gflops_median": float(np.median(gflops)),
        "roofline_images_per_s": roofline,
        "variants": {
            name: {"images_per_s": m, "vs_plain": {b: m[b] / base[b] for b in m}, "vs_roofline_256": m[256] / roofline}
            for name, m in median.items()
        },
    }
    print(
        f"roofline {roofline:,.0f} img/s (sgemm median {report['sgemm_gflops_median']:.0f} GFLOP/s), "
        f"{args.rounds} rounds"
    )
    for name, row in report["variants"].items():
        print(
            f"{name:40s} b=1 {row['images_per_s'][1]:7,.0f}/s ({row['vs_plain'][1]:.2f}x)   "
            f"b=256 {row['images_per_s'][256]:7,.0f}/s ({row['vs_plain'][256]:.2f}x, "
            f"{row['vs_roofline_256']:.2f} of roofline)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
