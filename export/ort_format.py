"""Each ONNX graph of the bundle also in onnxruntime's own format (`.ort`), plus the operators config
that an onnxruntime minimal build is made from (`required_operators.config`).

The `.ort` file is the graph after onnxruntime's optimisations (ORT_ENABLE_ALL, for the CPU execution
provider), saved as a flatbuffer: a session starts from it without parsing protobuf or optimising
again, and a minimal build (no ONNX parser, only the listed kernels) runs it. NCHWc layouts are left
out, as onnxruntime's own converter does, so one file runs on every CPU, ARM included.
"""

from __future__ import annotations

from pathlib import Path

from vaedge import progress
from vaedge.errors import ExportError
from vaedge.io import atomic

ORT_CONFIG = "required_operators.config"
NOT_PORTABLE = ["NchwcTransformer"]  # x86-only blocked layouts


def ort_name(onnx_name: str) -> str:
    """decoder.int8.onnx -> decoder.int8.ort"""
    return onnx_name.removesuffix(".onnx") + ".ort"


def to_ort(model: bytes, name: str) -> bytes:
    """The ONNX graph bytes `model` optimised and serialised in ORT format (ExportError naming `name`)."""
    import tempfile

    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="vaedge-ort-") as tmp:
        target = Path(tmp) / ort_name(name)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = str(target)
        options.add_session_config_entry("session.save_model_format", "ORT")
        options.add_session_config_entry("session.qdqisint8allowed", "0")  # as the converter does for non-ARM
        options.log_severity_level = 3
        try:
            ort.InferenceSession(model, options, providers=["CPUExecutionProvider"], disabled_optimizers=NOT_PORTABLE)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ExportError(f"{name}: onnxruntime cannot save it in ORT format ({exc})") from None
        return target.read_bytes()


def operators_config(ort_files: list[Path]) -> str:
    """The required-operators config (`domain;opset;op,op,...` lines) of the ORT graphs `ort_files`."""
    import logging
    import tempfile

    from onnxruntime.tools.ort_format_model.utils import create_config_from_models

    logging.getLogger("ort_format_model.utils").setLevel(logging.WARNING)  # it logs each write at INFO
    with tempfile.TemporaryDirectory(prefix="vaedge-ort-") as tmp:
        config = Path(tmp) / ORT_CONFIG
        create_config_from_models(ort_files, config, enable_type_reduction=False)
        lines = config.read_text(encoding="utf-8").splitlines()
    # its own header names each model by its full path (the staging folder's): name the files instead
    header = [f"# Generated from {', '.join(f.name for f in ort_files)} by vaedge export"]
    return "\n".join(header + [line for line in lines if not line.startswith("#")]) + "\n"


def write_ort(stage: Path, entries: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Write NAME.ort beside each ONNX entry (name, fields) in `stage`, and ORT_CONFIG for all of them;
    return their manifest entries (format "ort": the same role, precision and tensors as the ONNX file;
    the config: role "operators")."""
    onnx = [(name, fields) for name, fields in entries if fields["format"] == "onnx"]
    if not onnx:
        return []
    progress.step("writing the ONNX graphs in ORT format")
    written = []
    for name, fields in onnx:
        atomic.write_bytes(stage / ort_name(name), to_ort((stage / name).read_bytes(), name))
        kept = {k: fields[k] for k in ("role", "precision", "inputs", "outputs")}
        written.append((ort_name(name), dict(format="ort", **kept, source=name, optimization="ORT_ENABLE_ALL, CPU")))
    config = operators_config([stage / name for name, _ in written])
    atomic.write_bytes(stage / ORT_CONFIG, config.encode("utf-8"))
    return [*written, (ORT_CONFIG, dict(role="operators", format="config", precision="fp32"))]
