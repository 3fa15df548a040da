"""The bundle's TFLite graphs: one file per fixed batch and variant, with delegate-readiness facts.

Names: `{role}.b{batch}.tflite` (fp32), `{role}.int8.b{batch}.tflite` (full-integer int8, float32
inputs and outputs; the decoder's in the form export/integer_decoder.py measures best) and
`{role}.int8io.b{batch}.tflite` (int8 inputs and outputs too, for microcontrollers and the Edge TPU;
the runtime quantizes and dequantizes on the host with the scale and zero point the manifest records).
A fixed batch keeps SHAPE/STRIDED_SLICE/PACK out of the graph, so XNNPACK takes each fp32 graph whole;
BatchNorm is folded first (export/fold_keras.py), so no per-layer MUL is left, and the fp32 decoder's
one-channel last layer is a depthwise conv and a SUM, which XNNPACK runs faster than a TRANSPOSE_CONV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaedge.errors import ExportError
from vaedge.export import convert, integer_decoder
from vaedge.export.tflite_facts import facts
from vaedge.io import atomic
from vaedge.runtime.manifest import tensor_specs

DYNAMIC_SHAPE_OPS = frozenset({"SHAPE", "STRIDED_SLICE", "PACK"})
CALIBRATION_ROWS = 256  # per graph: enough for min/max ranges, bounded conversion time


def tflite_name(role: str, batch: int, variant: str = "") -> str:
    """`decoder.b64.tflite`, `decoder.int8.b64.tflite`, `decoder.int8io.b64.tflite`."""
    return ".".join(p for p in (role, variant, f"b{batch}", "tflite") if p)


def calibration_batches(rows: np.ndarray, batch: int):
    """A function yielding (batch, ...) arrays over the first CALIBRATION_ROWS rows (tiled when fewer)."""
    count = max(batch, min(len(rows), CALIBRATION_ROWS) // batch * batch)
    data = np.resize(rows, (count, *rows.shape[1:])).astype(np.float32)
    return lambda: (data[i : i + batch] for i in range(0, count, batch))


def _with_dtypes(tensors: list, quantization: dict) -> list:
    return [{**t, "dtype": "int8"} if t["name"] in quantization else t for t in tensors]


def write_tflite(stage: Path, role: str, source, batches, int8: bool, calibration: dict) -> tuple[list, dict]:
    """Write every TFLite graph of `role` into `stage`; return ((name, manifest fields) entries, facts for
    the manifest's validation section: the int8 decoders' form and what it scored)."""
    make = convert.encoder_function if role == "encoder" else convert.decoder_function
    rows = next(iter(calibration.values()))
    form, report = None, {}
    if int8 and role == "decoder":  # the form that quantizes best, measured (export/integer_decoder.py)
        form, _ = integer_decoder.choose(source, rows, CALIBRATION_ROWS, calibration_batches)
        report = {"integer_decoder": form}
    entries = []
    for batch in batches:
        variants = [("", "fp32", False)]
        if int8:
            variants += [("int8", "int8", False)]
            if form is None or form.activations == "int8":  # 16x8 graphs keep float I/O
                variants += [("int8io", "int8", True)]
        for variant, precision, int8_io in variants:
            name = tflite_name(role, batch, variant)
            if precision == "fp32" and role == "decoder":
                model = convert.to_tflite(make(source, batch, fold=True, depthwise=True))
            elif precision == "fp32":
                model = convert.to_tflite(make(source, batch, fold=True))
            elif form is not None:
                function = integer_decoder.function(source, form, batch, rows[:CALIBRATION_ROWS])
                model = convert.to_tflite(
                    function,
                    calibration=calibration_batches(rows, batch),
                    int8_io=int8_io,
                    int16_activations=form.activations == "int16",
                )
            else:
                function = make(source, batch, fold=True)
                model = convert.to_tflite(function, calibration=calibration_batches(rows, batch), int8_io=int8_io)
            entries.append((name, _written(stage, name, model, role, precision, source, batch)))
    return entries, report


def _written(stage: Path, name: str, model: bytes, role: str, precision: str, source, batch: int) -> dict:
    """Write `model` as `name` in `stage`; return its manifest fields."""
    fields = facts(model)
    dynamic = sorted(DYNAMIC_SHAPE_OPS & set(fields["ops"]))
    if dynamic:
        raise ExportError(f"{name}: TF's converter left dynamic-shape ops {dynamic} in a fixed-batch graph")
    atomic.write_bytes(stage / name, model)
    inputs, outputs = tensor_specs(role, source.image_shape, source.latent_dim, batch=batch)
    quantization = fields.get("quantization", {})
    return dict(
        role=role,
        format="tflite",
        precision=precision,
        inputs=_with_dtypes(inputs, quantization),
        outputs=_with_dtypes(outputs, quantization),
        **fields,
    )
