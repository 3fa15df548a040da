"""LiteRT's CompiledModel API against the Interpreter the `tflite` engine uses, on a bundle's fixed-batch decoders.

Each round times every (file, API) pair once for `--seconds`, in a rotated order; the report gives the median
img/s over rounds, and checks both APIs return the same images.

    .venv/bin/python benchmarks/litert_compiled.py bundles/quickstart --rounds 5
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from vaedge.runtime.manifest import read_all, read_manifest


def interpreter_call(data: bytes):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=data, num_threads=os.cpu_count())
    interpreter.allocate_tensors()
    (z,), (image,) = interpreter.get_input_details(), interpreter.get_output_details()

    def call(latents: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(z["index"], latents)
        interpreter.invoke()
        return interpreter.get_tensor(image["index"])

    return call


def compiled_call(data: bytes):
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator

    model = CompiledModel.from_buffer(data, hardware_accel=HardwareAccelerator.CPU)
    inputs, outputs = model.create_input_buffers(0), model.create_output_buffers(0)
    signature = next(iter(model.get_signature_list()))
    shape = model.get_output_tensor_details(signature)["image"]["shape"]

    def call(latents: np.ndarray) -> np.ndarray:
        inputs[0].write(latents)
        model.run_by_index(0, inputs, outputs)
        return outputs[0].read(int(np.prod(shape)), np.float32).reshape(shape)

    return call


def rate(call, latents: np.ndarray, seconds: float) -> float:
    call(latents)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        call(latents)
        calls += 1
    return len(latents) * calls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    manifest = read_manifest(args.bundle)
    loaded = read_all(manifest)
    files = [f for f in manifest.files if f.role == "decoder" and f.format == "tflite" and f.batch and f.batch > 1]
    files = [f for f in files if not f.quantization]  # float32 I/O: the same feeds for both APIs
    calls = {}
    for f in files:
        calls[(f.path, "Interpreter")] = interpreter_call(loaded[f.path])
        calls[(f.path, "CompiledModel")] = compiled_call(loaded[f.path])
    samples = {key: [] for key in calls}
    for f in files:
        latents = np.random.default_rng(0).standard_normal((f.batch, manifest.latent_dim)).astype(np.float32)
        a = calls[(f.path, "Interpreter")](latents).reshape(-1)
        b = calls[(f.path, "CompiledModel")](latents).reshape(-1)[: a.size]
        print(f"{f.path}: max |Interpreter - CompiledModel| = {np.abs(a - b).max():.2g}")
    keys = list(calls)
    for round_ in range(args.rounds):
        for key in keys[round_ % len(keys) :] + keys[: round_ % len(keys)]:
            f = next(f for f in files if f.path == key[0])
            latents = np.random.default_rng(0).standard_normal((f.batch, manifest.latent_dim)).astype(np.float32)
            samples[key].append(rate(calls[key], latents, args.seconds))
    for (path, api), values in samples.items():
        print(f"{path:28s} {api:14s} {np.median(values):9,.0f} img/s (median of {len(values)})")


if __name__ == "__main__":
    main()
