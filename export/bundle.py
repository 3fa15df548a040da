"""`vaedge export`: Keras models -> a validated bundle directory, published by one rename.

Pipeline: tf.function -> tf2onnx -> optimise (slim, fold BatchNorm, drop layout transposes)
-> fp16/int8 variants -> fixed-batch TFLite (fp32, int8, int8 I/O) -> Keras reference -> parity gates -> manifest.
Everything is written into a temporary sibling of `--out`; only a bundle that passed validation
is renamed into place, so a killed or failed export leaves no bundle (or the previous one) behind.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from vaedge import progress
from vaedge.errors import ExportError
from vaedge.export import convert, quantize
from vaedge.export.config import ExportConfig
from vaedge.export.flops import flops_per_image
from vaedge.export.latent_range import latent_map_section
from vaedge.export.optimize import optimize
from vaedge.export.ort_format import write_ort
from vaedge.export.quality import quality_report
from vaedge.export.sources import KerasSource
from vaedge.export.subpixel import subpixel_conv_transpose
from vaedge.export.tflite_graphs import write_tflite
from vaedge.export.validate import keras_reference, stored_subset
from vaedge.io import atomic
from vaedge.runtime.manifest import (
    MANIFEST,
    build_manifest,
    file_entry,
    is_bundle,
    parse_manifest,
    runtime_section,
    tensor_specs,
)
from vaedge.runtime.parity import IMAGE_GATE, LATENT_GATE, PARITY_FILE, PSNR_GATE, check_bundle, raise_on_failure
from vaedge.versions import versions


@dataclasses.dataclass
class ExportResult:
    bundle: Path
    checks: list
    skipped: dict[str, str]  # variant file -> why it was not written
    notes: dict[str, str] = dataclasses.field(default_factory=dict)  # precision -> likelihood cost over target
    micro_refused: dict[str, str] = dataclasses.field(default_factory=dict)  # graph -> why it is no micro graph


PRODUCERS = ("tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "onnxslim", "ai-edge-litert")


def _write_models(stage: Path, source: KerasSource, config: ExportConfig, calibration) -> tuple[list, dict]:
    """Write every graph file into `stage`; return manifest entries (without hashes) and graph facts."""
    entries, counts, flops, integer = [], {}, {}, {}
    functions = {"encoder": convert.encoder_function(source), "decoder": convert.decoder_function(source)}
    for role, function in functions.items():
        inputs, outputs = tensor_specs(role, source.image_shape, source.latent_dim)
        progress.step(f"converting the {role} to ONNX")
        raw = convert.to_onnx(function, config.opset)
        flops[role] = flops_per_image(raw)  # useful work, before any rewrite can add zero taps
        progress.step(f"optimising the {role}")
        optimized, counts[role] = optimize(raw)
        if set(config.precisions) - {"fp32"}:
            progress.step(f"quantising the {role}: {', '.join(p for p in config.precisions if p != 'fp32')}")
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
            entries.append(
                (name, dict(role=role, format="onnx", precision=precision, inputs=inputs, outputs=outputs, **extra))
            )
        if config.tflite:
            progress.step(f"writing the {role}'s TFLite graphs")
            written, integer[role] = write_tflite(
                stage, role, source, config.tflite_batches, "int8" in config.precisions, calibration[role]
            )
            entries += written
            if config.micro and role == "decoder":  # the microcontroller form of decoder.int8io.b1.tflite
                from vaedge.export.micro_decoder import write_micro_decoder

                form = integer[role].get("integer_decoder")
                latents = next(iter(calibration[role].values()))
                entries = write_micro_decoder(stage, source, entries, latents, form.equalization if form else 0.0)
    integer = {k: v for role_report in integer.values() for k, v in role_report.items()}
    return entries, {"op_counts": counts, "flops_per_image": flops, "integer": integer}


def _blame(name: str, loaded: dict, source: KerasSource, integer: dict, calibration: dict) -> str:
    """'; worst op: ...' for an int8 TFLite decoder that missed its gate (export/integer_decoder.py), else ''."""
    form = integer.get("integer_decoder")
    if form is None or not name.startswith("decoder.int8") or not name.endswith(".tflite"):
        return ""
    from vaedge.export import integer_decoder
    from vaedge.export.tflite_graphs import CALIBRATION_ROWS

    latents = next(iter(calibration["decoder"].values()))
    batch = int(name.rsplit(".b", 1)[1].split(".")[0])
    function = integer_decoder.function(source, form, batch, latents[:CALIBRATION_ROWS])
    rows = np.resize(latents[CALIBRATION_ROWS:], (batch, latents.shape[1]))
    return "; worst op " + integer_decoder.blame(function, loaded[name], rows)


def _manifest(
    source: KerasSource, config: ExportConfig, files: list[dict], graph_facts, validation, **sections
) -> dict:
    return build_manifest(
        source.image_shape,
        source.latent_dim,
        files,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        op_counts=graph_facts["op_counts"],
        flops_per_image=graph_facts["flops_per_image"],
        runtime=runtime_section(),
        producer=versions(*PRODUCERS),
        source=source.origin,
        train_config=source.train_config,
        metrics={k: v for k, v in (source.metrics or {}).items() if k != "history"},
        export_config=dataclasses.asdict(config),
        validation=validation,
        **sections,
    )


def export_bundle(
    source: KerasSource,
    config: ExportConfig,
    out: Path,
    held_out: np.ndarray,
    train_images: np.ndarray,
    force: bool = False,
    sign_key: Path | None = None,
) -> ExportResult:
    """Export `source` into the bundle directory `out`; raise ParityError if an fp32 graph misses its gate."""
    config.validate()
    out = Path(out)
    with atomic.staged_directory(out, replace=force, owned=is_bundle, what="bundle") as stage:
        progress.step("calibration data")
        calibration = quantize.calibration_data(source, train_images, config.seed)
        entries, graph_facts = _write_models(stage, source, config, calibration)
        entries += write_ort(stage, entries)  # each ONNX graph also in onnxruntime's own format
        progress.step("Keras reference outputs")
        reference = keras_reference(source, held_out, config.seed)
        np.savez_compressed(stage / PARITY_FILE, **stored_subset(reference))
        entries.append((PARITY_FILE, dict(role="parity", format="npz", precision="fp32")))
        # Each file is read and hashed once; the checks run on the manifest in memory and on those bytes.
        loaded = {name: (stage / name).read_bytes() for name, _ in entries}
        files = [file_entry(stage, name, loaded[name], **fields) for name, fields in entries]
        progress.step("validating every graph against Keras")
        checks = check_bundle(
            parse_manifest(stage, _manifest(source, config, files, graph_facts, {})), reference, loaded=loaded
        )
        precision_of = {name: fields["precision"] for name, fields in entries}
        skipped = {}
        for check in checks:
            if not check.passed and precision_of.get(check.file, "fp32") != "fp32" and check.file not in skipped:
                skipped[check.file] = (
                    f"{check.tensor} [{check.probe}]: {check.metric} {check.value:.2f} < gate {check.gate:g}"
                    + _blame(check.file, loaded, source, graph_facts["integer"], calibration)
                )
        kept = [c for c in checks if c.file not in skipped]
        raise_on_failure(kept)
        for name in skipped:
            (stage / name).unlink()
        files = [f for f in files if f["path"] not in skipped]
        validation = {
            "gates": {"image_max_abs": IMAGE_GATE, "latent_max_abs": LATENT_GATE, "psnr_db": PSNR_GATE},
            "held_out_images": int(len(held_out)),
            "checks": [c.as_dict() for c in kept],
            "skipped": skipped,
            **{k: form.as_dict() for k, form in graph_facts["integer"].items()},
        }
        manifest = parse_manifest(stage, _manifest(source, config, files, graph_facts, validation))
        progress.step("likelihood check (IWAE) of each variant")
        validation["likelihood"], notes = quality_report(manifest, loaded, held_out, config.seed)
        validation["likelihood_notes"] = notes
        sections, micro_refused = {}, {}
        sections["latent_map"] = latent_map_section(reference["z_mean"])  # the range every map draws
        if config.micro:
            from vaedge.export.micro import micro_graphs

            fp32_iwae = validation["likelihood"]["fp32"]["iwae_nll"]
            sections["micro"], micro_refused, micro_notes = micro_graphs(
                manifest, loaded, reference, held_out, config.seed, fp32_iwae
            )
            notes.update(micro_notes)
        atomic.write_json(stage / MANIFEST, _manifest(source, config, files, graph_facts, validation, **sections))
        if sign_key is not None:  # the last write: the signature covers the bundle exactly as published
            from vaedge.runtime.signature import sign_bundle

            progress.step("signing")

            sign_bundle(stage, sign_key)
    return ExportResult(out, kept, skipped, notes, micro_refused)
