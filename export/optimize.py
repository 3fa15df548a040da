"""Optimise tf2onnx graphs for inference: constant folding, BatchNorm folding, tidy names.

What stays portable ONNX: no onnxruntime-only fused ops are written into the bundle (the runtime
turns on onnxruntime's own fusions when it loads a session).
"""

from __future__ import annotations

import onnx
import onnxslim

from vaedge.export.convert import op_counts
from vaedge.export.fold import fold_batchnorm
from vaedge.export.layout import remove_layout_transposes

BATCH = "N"


def optimize(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict]:
    """Return the optimised model and {"before": op counts, "after": op counts}."""
    before = op_counts(model)
    slim = onnxslim.slim(model)  # folds the dynamic reshape chains tf2onnx leaves into constants
    folded = onnxslim.slim(remove_layout_transposes(fold_batchnorm(slim)))
    name_batch_dimension(folded)
    folded.producer_name, folded.producer_version = model.producer_name, model.producer_version
    onnx.checker.check_model(folded, full_check=True)
    return folded, {"before": before, "after": op_counts(folded)}


def name_batch_dimension(model: onnx.ModelProto) -> None:
    """Call the dynamic first dimension of every graph input and output `N`."""
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_param = BATCH
