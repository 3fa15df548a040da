"""Remove the NHWC<->NCHW Transposes tf2onnx leaves beside Flatten/Reshape, by permuting Dense weights.

Keras flattens in NHWC order, ONNX convolutions work in NCHW, so tf2onnx keeps one Transpose next
to each Flatten (encoder) and Reshape (decoder). Permuting the rows (encoder) or columns (decoder)
of the adjacent MatMul weights makes the Reshape produce/consume NCHW directly; exact.
"""

from __future__ import annotations

import numpy as np
import onnx

from vaedge.export.graph import Graph, rewrite_copy

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def _perm(node) -> list[int]:
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), [])


def _nchw_order(channels: int, height: int, width: int) -> np.ndarray:
    """For each position of an NCHW flatten, the index of the same element in an NHWC flatten."""
    return np.arange(height * width * channels).reshape(height, width, channels).transpose(2, 0, 1).ravel()


def _decoder_reshape(g: Graph, transpose, shapes) -> bool:
    """MatMul -> Add -> Relu -> Reshape(N,H,W,C) -> Transpose(NCHW): permute MatMul columns."""
    reshape = g.producer.get(transpose.input[0])
    if reshape is None or reshape.op_type != "Reshape" or g.uses(reshape.output[0]) != 1:
        return False
    chain, node = [], g.producer.get(reshape.input[0])
    while node is not None and node.op_type in ("Relu", "Add") and g.uses(node.output[0]) == 1:
        chain.append(node)
        node = g.producer.get(node.input[0] if node.op_type == "Relu" else g.const_and_other(node)[1] or "")
    if node is None or node.op_type != "MatMul" or g.const(node.input[1]) is None:
        return False
    _, height, width, channels = shapes[reshape.output[0]]
    order = _nchw_order(channels, height, width)
    g.set_const(node, 1, g.const(node.input[1])[:, order])
    for add in (n for n in chain if n.op_type == "Add"):
        bias, _ = g.const_and_other(add)
        if bias is None or bias.shape[-1] != len(order):
            return False
        g.set_const(add, list(add.input).index(next(i for i in add.input if i in g.consts)), bias[..., order])
    g.set_const(reshape, 1, np.array([-1, channels, height, width], np.int64))
    g.bypass(transpose, reshape.output[0])
    return True


def _encoder_flatten(g: Graph, transpose, shapes) -> bool:
    """Transpose(NHWC) -> Reshape(N, H*W*C) -> MatMul: permute MatMul rows."""
    consumers = g.consumers[transpose.output[0]]
    if len(consumers) != 1 or consumers[0].op_type != "Reshape" or g.uses(transpose.output[0]) != 1:
        return False
    reshape = consumers[0]
    matmuls = g.consumers[reshape.output[0]]
    if not matmuls or any(m.op_type != "MatMul" or g.const(m.input[1]) is None for m in matmuls):
        return False
    if len(shapes[reshape.output[0]]) != 2:
        return False
    _, channels, height, width = shapes[transpose.input[0]]
    order = _nchw_order(channels, height, width)
    for matmul in matmuls:
        weight = g.const(matmul.input[1])
        permuted = np.empty_like(weight)
        permuted[:] = weight[order]
        g.set_const(matmul, 1, permuted)
    g.bypass(transpose, transpose.input[0])
    return True


def remove_layout_transposes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of `model` without the Transposes beside its Flatten/Reshape to/from Dense."""

    def rewrite(g: Graph, shapes: dict) -> None:
        for transpose in [n for n in g.graph.node if n.op_type == "Transpose"]:
            if _perm(transpose) == TO_NCHW:
                _decoder_reshape(g, transpose, shapes)
            elif _perm(transpose) == TO_NHWC:
                _encoder_flatten(g, transpose, shapes)

    return rewrite_copy(model, rewrite)
