"""FLOPs per image of an ONNX graph: 2 x multiply-accumulates of its MatMul/Gemm/Conv/ConvTranspose."""

from __future__ import annotations

import numpy as np
import onnx

from vaedge.export.graph import Graph, trace_shapes


def flops_per_image(model: onnx.ModelProto) -> int:
    """Useful FLOPs for one image (batch 1): elementwise ops are ignored, as in the usual roofline."""
    g = Graph(model)
    shapes, _ = trace_shapes(model)
    macs = 0
    for node in g.graph.node:
        weight = g.const(node.input[1]) if len(node.input) > 1 else None
        if node.op_type in ("MatMul", "Gemm") and weight is not None:
            macs += int(np.prod(shapes[node.output[0]])) * weight.shape[0]
        elif node.op_type == "Conv" and weight is not None:
            # every output element: Cin/group * kh * kw MACs
            macs += int(np.prod(shapes[node.output[0]])) * int(np.prod(weight.shape[1:]))
        elif node.op_type == "ConvTranspose" and weight is not None:
            # every input element scatters into Cout/group * kh * kw outputs
            macs += int(np.prod(shapes[node.input[0]])) * int(np.prod(weight.shape[1:]))
    return 2 * macs
