"""`vaedge export`: Keras models -> a validated bundle directory, published by one rename.

Pipeline: tf.function -> tf2onnx -> optimise (slim, fold BatchNorm, drop layout transposes)
-> fp16/int8 variants -> TFLite (fp32, int8) -> Keras reference -> parity gates -> manifest.
Everything is written into a temporary sibling of `--out`; only a bundle that passed validation
is renamed into place, so a killed or failed export leaves no bundle (or the previous one) behind.
"""

from __future__ import annotations

import dataclasses
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnx

from vaedge import __version__
from vaedge.errors import ExportError
from vaedge.export import convert, quantize
from vaedge.export.config import ExportConfig
from vaedge.export.flops import flops_per_image
from vaedge.export.optimize import optimize
from vaedge.export.subpixel import subpixel_conv_transpose
from vaedge.export.sources import KerasSource
from vaedge.export.validate import keras_reference, stored_subset
from vaedge.runtime import atomic
from vaedge.runtime.manifest import (
    FORMAT, FORMAT_VERSION, MANIFEST, SAMPLING_FORMULA, file_entry, manifest_digest, read_manifest,
)
from vaedge.runtime.generator import CHUNK
from vaedge.runtime.parity import IMAGE_GATE, LATENT_GATE, PARITY_FILE, PSNR_GATE, check_bundle, raise_on_failure
from vaedge.runtime.sampling import host_sample, prior_eps


@dataclasses.dataclass
class ExportResult:
    bundle: Path
    checks: list
    skipped: dict[str, str]  # variant file -> why it was not written


def _io(source: KerasSource, role: str) -> tuple[list, list]:
    image = {"name": "image", "shape": ["N", *source.image_shape], "dtype": "float32"}
    latent = {"shape": ["N", source.latent_dim], "dtype": "float32"}
    if role == "encoder":
        return [image], [{"name": "z_mean", **latent}, {"name": "z_log_var", **latent}]
    return [{"name": "z", **latent}], [image]


def _calibration(source: KerasSource, train_images: np.ndarray, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Encoder: real training images. Decoder: prior samples plus posterior samples of those images."""
    encoded = source.encoder(train_images, training=False)
    z_mean, z_log_var = (np.asarray(encoded[k], np.float32) for k in ("z_mean", "z_log_var"))
    posterior = host_sample(z_mean, z_log_var, prior_eps(len(z_mean), source.latent_dim, seed + 2))
    prior = prior_eps(len(z_mean), source.latent_dim, seed + 3)
    return {"encoder": {"image": train_images}, "decoder": {"z": np.concatenate([prior, posterior])}}


def _versions() -> dict[str, str]:
    import keras
    import onnxruntime
    import onnxslim
    import tensorflow as tf
    import tf2onnx

    return {"vaedge": __version__, "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "onnxslim": onnxslim.__version__}


def _write_models(stage: Path, source: KerasSource, config: ExportConfig, calibration) -> tuple[list, dict]:
    """Write every graph file into `stage`; return manifest entries (without hashes) and graph facts."""
    entries, counts, flops = [], {}, {}
    functions = {"encoder": convert.encoder_function(source), "decoder": convert.decoder_function(source)}
    for role, function in functions.items():
        inputs, outputs = _io(source, role)
        raw = convert.to_onnx(function, config.opset)
        flops[role] = flops_per_image(raw)  # useful work, before any rewrite can add zero taps
        optimized, counts[role] = optimize(raw)
        variants = {"fp32": optimized}
        if "fp16" in config.precisions:
            variants["fp16"] = quantize.to_fp16(optimized)
        if "int8" in config.precisions:
            # int8 Conv has fast kernels (QLinearConv), int8 ConvTranspose has none: measured in
            # docs/benchmarks.md, the sub-pixel form makes the int8 decoder 1.2x faster at batch 256.
            variants["int8"] = quantize.to_int8(subpixel_conv_transpose(optimized), calibration[role])
        for precision, model in variants.items():
            name = f"{role}.onnx" if precision == "fp32" else f"{role}.{precision}.onnx"
            random = convert.random_ops(model)
            if random:
                raise ExportError(f"{name}: the graph holds random ops {random}; sampling must stay on the host")
            atomic.write_bytes(stage / name, model.SerializeToString())
            extra = {"opset": config.opset, "op_counts": convert.op_counts(model)}
            entries.append((name, dict(role=role, format="onnx", precision=precision, inputs=inputs, outputs=outputs, **extra)))
        if config.tflite:
            atomic.write_bytes(stage / f"{role}.tflite", convert.to_tflite(function))
            entries.append((f"{role}.tflite", dict(role=role, format="tflite", precision="fp32", inputs=inputs, outputs=outputs)))
            if "int8" in config.precisions:
                batches = next(iter(calibration[role].values()))
                data = lambda: (batches[i : i + 1] for i in range(min(len(batches), 256)))  # noqa: E731
                atomic.write_bytes(stage / f"{role}.int8.tflite", convert.to_tflite(function, calibration=data))
                entries.append((f"{role}.int8.tflite", dict(role=role, format="tflite", precision="int8", inputs=inputs, outputs=outputs)))
    return entries, {"op_counts": counts, "flops_per_image": flops}


def _manifest(stage: Path, source: KerasSource, config: ExportConfig, entries, graph_facts, validation) -> dict:
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "image": {"shape": list(source.image_shape), "layout": "NHWC", "dtype": "float32", "range": [0.0, 1.0]},
        "latent_dim": source.latent_dim,
        "sampling": {"formula": SAMPLING_FORMULA, "eps": "N(0, I), drawn on the host", "prior": "N(0, I)",
                     "in_graph": False},
        "files": [file_entry(stage, name, **fields) for name, fields in entries],
        "op_counts": graph_facts["op_counts"],
        "flops_per_image": graph_facts["flops_per_image"],
        "runtime": {"onnxruntime": {"graph_optimization_level": "ORT_ENABLE_ALL", "intra_op_num_threads": "all cores",
                                    "sessions": "one per model, reused"},
                    "chunk": CHUNK, "default_precision": "fp32"},
        "producer": _versions(),
        "source": source.origin,
        "train_config": source.train_config,
        "metrics": {k: v for k, v in (source.metrics or {}).items() if k != "history"},
        "export_config": dataclasses.asdict(config),
        "validation": validation,
    }
    return {**manifest, "manifest_sha256": manifest_digest(manifest)}


def export_bundle(source: KerasSource, config: ExportConfig, out: Path, held_out: np.ndarray,
                  train_images: np.ndarray, force: bool = False) -> ExportResult:
    """Export `source` into the bundle directory `out`; raise ParityError if an fp32 graph misses its gate."""
    config.validate()
    out = Path(out)
    if out.exists() and not force:
        raise ExportError(f"{out}: already exists; pass --force to replace it")
    with atomic.staged_directory(out, replace=force) as stage:
        calibration = _calibration(source, train_images, config.seed)
        entries, graph_facts = _write_models(stage, source, config, calibration)
        reference = keras_reference(source, held_out, config.seed)
        np.savez_compressed(stage / PARITY_FILE, **stored_subset(reference))
        entries.append((PARITY_FILE, dict(role="parity", format="npz", precision="fp32")))
        atomic.write_json(stage / MANIFEST, _manifest(stage, source, config, entries, graph_facts, {}))
        checks = check_bundle(read_manifest(stage), reference)
        precision_of = {name: fields["precision"] for name, fields in entries}
        skipped = {}
        for check in checks:
            if not check.passed and precision_of.get(check.file, "fp32") != "fp32":
                skipped[check.file] = f"{check.tensor} [{check.probe}]: {check.metric} {check.value:.2f} < gate {check.gate:g}"
        kept = [c for c in checks if c.file not in skipped]
        raise_on_failure(kept)
        for name in skipped:
            (stage / name).unlink()
        entries = [(n, f) for n, f in entries if n not in skipped]
        validation = {
            "gates": {"image_max_abs": IMAGE_GATE, "latent_max_abs": LATENT_GATE, "psnr_db": PSNR_GATE},
            "held_out_images": int(len(held_out)),
            "checks": [c.as_dict() for c in kept],
            "skipped": skipped,
        }
        atomic.write_json(stage / MANIFEST, _manifest(stage, source, config, entries, graph_facts, validation))
    return ExportResult(out, kept, skipped)
