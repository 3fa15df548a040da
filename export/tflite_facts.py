"""What a TFLite file holds, for the manifest's delegate-readiness fields: its op list, how many
XNNPACK partitions LiteRT makes of it, LiteRT's own GPU-delegate verdict, and the scale and zero
point of int8 inputs and outputs.
"""

from __future__ import annotations

import contextlib
import io
import re

from vaedge.quiet import native_stderr_silenced

GPU_OK = "looks compatible with GPU delegate"
GPU_WARNING = re.compile(r"GPU COMPATIBILITY WARNING: (.*)")
MAX_WARNINGS = 16


def _interpreter(data: bytes, delegate: bool):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    with native_stderr_silenced():  # the XNNPACK delegate announces itself on stderr
        interpreter = Interpreter(model_content=data, num_threads=1, experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
    return interpreter


def tflite_ops(data: bytes) -> list[str]:
    """The graph's builtin ops in execution order, as converted (no delegate applied)."""
    return [op["op_name"] for op in _interpreter(data, delegate=False)._get_ops_details()]


def xnnpack_partitions(data: bytes) -> dict:
    """How XNNPACK takes the graph: {"partitions": DELEGATE nodes after delegation, "whole": True when
    one partition reads every graph input and writes every graph output, so no builtin kernel runs}."""
    interpreter = _interpreter(data, delegate=True)
    delegates = [op for op in interpreter._get_ops_details() if op["op_name"] == "DELEGATE"]
    inputs = {d["index"] for d in interpreter.get_input_details()}
    outputs = {d["index"] for d in interpreter.get_output_details()}
    whole = len(delegates) == 1 and inputs <= set(delegates[0]["inputs"]) and outputs <= set(delegates[0]["outputs"])
    return {"partitions": len(delegates), "whole": bool(whole)}


def gpu_verdict(data: bytes) -> tuple[bool, list[str]]:
    """LiteRT's GPU-delegate compatibility check (tf.lite.experimental.Analyzer): (compatible, warnings).
    The analyzer prints its report; it is captured here, never shown."""
    import tensorflow as tf

    report = io.StringIO()
    with native_stderr_silenced(), contextlib.redirect_stdout(report), contextlib.redirect_stderr(report):
        tf.lite.experimental.Analyzer.analyze(model_content=data, gpu_compatibility=True)
    text = report.getvalue()
    warnings = sorted({m.group(1).strip() for m in GPU_WARNING.finditer(text)})[:MAX_WARNINGS]
    return GPU_OK in text and not warnings, warnings


def io_quantization(data: bytes) -> dict[str, dict]:
    """{tensor name: {"scale", "zero_point"}} of every int8 input and output of the serving signature, as the
    runtime's LiteRT engine reads it (one reading for export and runtime)."""
    from vaedge.runtime.backends import open_model

    return open_model(data, "tflite", "graph.tflite").quantization()


def facts(data: bytes) -> dict:
    """Manifest fields of one TFLite file: ops, xnnpack, gpu_compatible, gpu_warnings (+ quantization)."""
    compatible, warnings = gpu_verdict(data)
    fields = {
        "ops": tflite_ops(data),
        "xnnpack": xnnpack_partitions(data),
        "gpu_compatible": compatible,
        "gpu_warnings": warnings,
    }
    quantization = io_quantization(data)
    if quantization:
        fields["quantization"] = quantization
    return fields
