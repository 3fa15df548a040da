"""Where LiteRT's time goes in the course's fp32 decoder, op by op (its Python package has no op profiler).

Each op of the fp32 TFLite decoder (the shapes of the course model: z (N, 2) -> (7, 7, 64) -> stride-2
transposed convs to (14, 14, 64) and (28, 28, 32) -> the one-channel image) is converted alone with TF,
random weights, and timed on LiteRT with 2 threads in interleaved rounds; the last layer in both forms,
the TRANSPOSE_CONV the graphs held before and the depthwise conv + SUM they hold now (export/fold_keras.py).

    .venv/bin/python benchmarks/litert_ops.py --batch 64 --batch 256
"""

from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402


def ops(batch: int) -> dict:
    """{name: (input shape, function)} for each op of the decoder at `batch`, and the whole graph."""
    rng = np.random.default_rng(0)

    def const(*shape, scale=0.05):
        return tf.constant(rng.standard_normal(shape).astype(np.float32) * scale)

    def conv_t(cin, cout, size):
        kernel, bias = const(3, 3, cout, cin), const(cout)
        return lambda x: tf.nn.conv2d_transpose(x, kernel, [batch, 2 * size, 2 * size, cout], 2, "SAME") + bias

    def shift_relu(*shape):
        shift = const(*shape)
        return lambda x: tf.nn.relu(x + shift)

    last = const(3, 3, 1, 32)  # the transposed conv's (h, w, out, in); as a depthwise filter: flipped, (h, w, in, 1)
    depthwise = tf.transpose(last[::-1, ::-1], (0, 1, 3, 2))
    found = {
        "FULLY_CONNECTED 2 -> 3136, RESHAPE": (
            (batch, 2),
            (lambda w, b: lambda z: tf.reshape(tf.matmul(z, w) + b, [batch, 7, 7, 64]))(const(2, 3136), const(3136)),
        ),
        "TRANSPOSE_CONV 64 -> 64, 7 -> 14": ((batch, 7, 7, 64), conv_t(64, 64, 7)),
        "ADD shift map + ReLU (14, 14, 64)": ((batch, 14, 14, 64), shift_relu(14, 14, 64)),
        "TRANSPOSE_CONV 64 -> 32, 14 -> 28": ((batch, 14, 14, 64), conv_t(64, 32, 14)),
        "ADD shift map + ReLU (28, 28, 32)": ((batch, 28, 28, 32), shift_relu(28, 28, 32)),
        "image: TRANSPOSE_CONV 32 -> 1 (before)": (
            (batch, 28, 28, 32),
            lambda x: tf.nn.conv2d_transpose(x, last, [batch, 28, 28, 1], 1, "SAME"),
        ),
        "image: DEPTHWISE_CONV_2D + SUM (now)": (
            (batch, 28, 28, 32),
            lambda x: tf.reduce_sum(tf.nn.depthwise_conv2d(x, depthwise, [1, 1, 1, 1], "SAME"), 3, keepdims=True),
        ),
        "ADD + LOGISTIC": ((batch, 28, 28, 1), (lambda m: lambda x: tf.sigmoid(x + m))(const(28, 28, 1))),
    }
    return found


def interpreter(shape, function) -> Interpreter:
    traced = tf.function(function, input_signature=[tf.TensorSpec(shape, tf.float32)])
    model = tf.lite.TFLiteConverter.from_concrete_functions([traced.get_concrete_function()], traced).convert()
    engine = Interpreter(model_content=model, num_threads=2)
    engine.allocate_tensors()
    engine.set_tensor(
        engine.get_input_details()[0]["index"], np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    )
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.25)
    args = parser.parse_args()
    for batch in args.batch or [64, 256]:
        engines = {name: interpreter(*op) for name, op in ops(batch).items()}
        times = {name: [] for name in engines}
        for r in range(args.rounds):
            for name in random.Random(r).sample(list(engines), len(engines)):
                engine = engines[name]
                start = time.perf_counter()
                while time.perf_counter() - start < args.seconds / 4:  # untimed: the last op's threads settle
                    engine.invoke()
                calls, start = 0, time.perf_counter()
                while time.perf_counter() - start < args.seconds:
                    engine.invoke()
                    calls += 1
                times[name].append((time.perf_counter() - start) / calls)
        print(f"\n| op, batch {batch} | µs per call |\n| --- | ---: |")
        for name, values in times.items():
            print(f"| {name} | {1e6 * float(np.median(values)):,.0f} |")
        print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
