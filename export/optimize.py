"""Optimise tf2onnx graphs for inference: a named, ordered list of passes, as tf2onnx's own registry.

What stays portable ONNX: no onnxruntime-only fused ops are written into the bundle (the runtime
turns on onnxruntime's own fusions when it loads a session). `vaedge export` runs every pass;
benchmarks/optimizations.py A/Bs them one by one with `cumulative`.
"""

from __future__ import annotations

from collections.abc import Iterator

import onnx
import onnxslim

from vaedge.export.convert import op_counts
from vaedge.export.fold import fold_batchnorm
from vaedge.export.layout import remove_layout_transposes

BATCH = "N"

PASSES = (
    ("onnxslim", onnxslim.slim),  # folds the dynamic reshape chains tf2onnx leaves into constants
    ("fold BatchNorm", fold_batchnorm),  # post-ReLU BatchNorm into the neighbouring linear layers
    ("drop layout transposes", remove_layout_transposes),  # NHWC<->NCHW beside Flatten/Reshape
    ("onnxslim (tidy)", onnxslim.slim),  # constants the folds left behind
)


def cumulative(model: onnx.ModelProto, passes=PASSES) -> Iterator[tuple[str, onnx.ModelProto]]:
    """Yield (pass name, model after it and every pass before it), in order."""
    for name, run in passes:
        model = run(model)
        yield name, model


def optimize(model: onnx.ModelProto, passes=PASSES) -> tuple[onnx.ModelProto, dict]:
    """Return the optimised model and {"before": op counts, "after": op counts, "passes": names}."""
    before = op_counts(model)
    optimised = model
    for _, optimised in cumulative(model, passes):
        pass
    name_batch_dimension(optimised)
    optimised.producer_name, optimised.producer_version = model.producer_name, model.producer_version
    onnx.checker.check_model(optimised, full_check=True)
    return optimised, {"before": before, "after": op_counts(optimised), "passes": [name for name, _ in passes]}


def name_batch_dimension(model: onnx.ModelProto) -> None:
    """Call the dynamic first dimension of every graph input and output `N`."""
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_param = BATCH
