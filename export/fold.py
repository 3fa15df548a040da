"""Fold inference-mode BatchNorm into the neighbouring linear layers of a tf2onnx graph.

The course model puts BatchNorm *after* the ReLU, so tf2onnx emits
`linear -> Relu -> Mul(scale) -> Add(shift) -> [Reshape/Transpose] -> linear`, which no stock
optimiser folds. Both halves fold exactly:

- scale: `relu(x) * a == relu(x * a)` for a > 0, so `a` multiplies the producing layer's output
  channels (weights and bias). Channels with a <= 0 keep the Mul.
- shift: the next layer is linear, so `L(h + b) == L(h) + L(b)`. `L(b)` is computed once by running
  that very subgraph with onnxruntime; it is a per-channel bias, or with zero padding a constant
  bias map (borders see fewer taps), added after `L`.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from vaedge.export.graph import Graph, quiet, rewrite_copy

LINEAR = ("Conv", "ConvTranspose", "MatMul", "Gemm")
PASS_THROUGH = ("Reshape", "Transpose", "Flatten")


def _channel_vector(a: np.ndarray, channels: int) -> np.ndarray | None:
    """The per-channel vector of a broadcast constant, or None if it is not per-channel."""
    squeezed = np.squeeze(a)
    if squeezed.ndim == 0:
        return np.full(channels, float(squeezed), np.float32)
    if squeezed.ndim == 1 and squeezed.shape[0] == channels:
        return squeezed.astype(np.float32)
    return None


def _scale_into_producer(g: Graph, mul) -> bool:
    a, relu_out = g.const_and_other(mul)
    relu = g.producer.get(relu_out)
    if a is None or relu is None or relu.op_type != "Relu" or g.uses(relu_out) != 1:
        return False
    producer = g.producer.get(relu.input[0])
    if producer is None or g.uses(relu.input[0]) != 1:
        return False
    if producer.op_type == "Add":  # MatMul + bias Add
        bias, linear_out = g.const_and_other(producer)
        linear = g.producer.get(linear_out)
        if bias is None or linear is None or linear.op_type != "MatMul" or g.uses(linear_out) != 1:
            return False
        weight = g.const(linear.input[1])
        scale = _channel_vector(a, weight.shape[1]) if weight is not None else None
        if scale is None or (scale <= 0).any():
            return False
        g.set_const(linear, 1, weight * scale[None, :])
        g.set_const(
            producer,
            list(producer.input).index(next(i for i in producer.input if i in g.consts)),
            np.broadcast_to(bias, np.broadcast_shapes(bias.shape, scale.shape)) * scale,
        )
    elif producer.op_type in ("Conv", "ConvTranspose") and g.const(producer.input[1]) is not None:
        weight = g.const(producer.input[1])
        axis = 0 if producer.op_type == "Conv" else 1
        if producer.op_type == "ConvTranspose" and any(a.name == "group" and a.i != 1 for a in producer.attribute):
            return False
        scale = _channel_vector(a, weight.shape[axis])
        if scale is None or (scale <= 0).any():
            return False
        shape = [1] * weight.ndim
        shape[axis] = -1
        g.set_const(producer, 1, weight * scale.reshape(shape))
        if len(producer.input) > 2 and producer.input[2]:
            g.set_const(producer, 2, g.const(producer.input[2]) * scale)
    else:
        return False
    g.bypass(mul, relu_out)
    return True


def _linear_paths(g: Graph, start: str):
    """Each consumer chain from `start` through reshapes/transposes to a linear layer, or None."""
    paths = []
    for node in g.consumers[start]:
        chain = []
        while (
            node.op_type in PASS_THROUGH
            and g.uses(node.output[0]) == 1
            and node.input[0] in (start, *[c.output[0] for c in chain])
        ):
            chain.append(node)
            node = g.consumers[node.output[0]][0]
        if node.op_type not in LINEAR or g.const(node.input[1]) is None:
            return None
        if (
            node.op_type == "Gemm"
            or chain
            and node.input[0] != chain[-1].output[0]
            or not chain
            and node.input[0] != start
        ):
            return None
        paths.append((chain, node))
    return paths or None


def _shift_into_consumers(g: Graph, add, shapes: dict, feeds: dict) -> bool:
    b, h = g.const_and_other(add)
    if b is None or add.output[0] in g.graph_outputs or add.output[0] not in shapes:
        return False
    paths = _linear_paths(g, add.output[0])
    if paths is None:
        return False
    b_full = np.broadcast_to(b, (1, *shapes[add.output[0]][1:])).astype(np.float32)
    for _, linear in paths:
        (offset,) = _run_subgraph(g, add.output[0], linear, {**feeds, add.output[0]: b_full})
        _add_after(g, linear, offset[0])
    g.bypass(add, h)
    return True


def _run_subgraph(g: Graph, start: str, linear, feeds: dict) -> list:
    """Run the nodes that lead from `start` (and graph inputs) to `linear`, with `linear`'s bias zeroed."""
    import onnxruntime as ort

    nodes, stack = {}, list(linear.input)
    while stack:
        name = stack.pop()
        if not name or name == start or name in g.consts or name in feeds or name in nodes:
            continue
        nodes[name] = g.producer[name]
        stack.extend(nodes[name].input)
    order = [n for n in g.graph.node if n.output[0] in nodes]
    target = onnx.NodeProto()
    target.CopyFrom(linear)
    initializers = [g.consts[i] for n in [*order, target] for i in n.input if i in g.consts]
    if target.op_type in ("Conv", "ConvTranspose") and len(target.input) > 2:
        del target.input[2:]  # the shift alone: L(b), without L's own bias
    used = {i for n in [*order, target] for i in n.input}
    inputs = [helper.make_tensor_value_info(k, onnx.TensorProto.FLOAT, None) for k in feeds if k in used]
    output = helper.make_tensor_value_info(target.output[0], onnx.TensorProto.FLOAT, None)
    graph = helper.make_graph([*order, target], "probe", inputs, [output], initializer=initializers)
    probe = helper.make_model(graph, opset_imports=g.model.opset_import)
    probe.ir_version = g.model.ir_version
    session = ort.InferenceSession(probe.SerializeToString(), quiet(ort), providers=["CPUExecutionProvider"])
    return session.run(None, {k: v for k, v in feeds.items() if k in used})


def _add_after(g: Graph, linear, offset: np.ndarray):
    """Add a constant (C, H, W) or (F,) `offset` to `linear`'s output, as its bias when possible."""
    if linear.op_type in ("Conv", "ConvTranspose"):
        per_channel = offset.reshape(offset.shape[0], -1)
        if np.abs(per_channel - per_channel.mean(axis=1, keepdims=True)).max() <= 1e-7 * (
            1 + np.abs(per_channel).max()
        ):
            bias = per_channel.mean(axis=1)
            if len(linear.input) > 2 and linear.input[2]:
                bias = bias + g.const(linear.input[2])
            elif len(linear.input) < 3:
                linear.input.append("")
            g.set_const(linear, 2, bias)
            return
    out = linear.output[0]
    consumers = g.consumers[out]
    if len(consumers) == 1 and consumers[0].op_type == "Add" and g.const_and_other(consumers[0])[0] is not None:
        bias_add = consumers[0]
        bias, _ = g.const_and_other(bias_add)
        index = next(k for k, i in enumerate(bias_add.input) if i in g.consts)
        g.set_const(bias_add, index, bias + offset)
        return
    new_out = f"{out}__shifted"
    for consumer in consumers:
        for k, name in enumerate(consumer.input):
            if name == out:
                consumer.input[k] = new_out
    add = helper.make_node("Add", [out, ""], [new_out], name=f"{linear.name}/folded_batchnorm_shift")
    g.set_const(add, 1, offset, name=f"{linear.name}/folded_batchnorm_shift:0")
    g.graph.node.insert(list(g.graph.node).index(linear) + 1, add)
    g.refresh()


def fold_batchnorm(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of `model` with post-ReLU BatchNorm (Mul, Add) folded into linear layers."""

    def rewrite(g: Graph, shapes: dict) -> None:
        for mul in [n for n in g.graph.node if n.op_type == "Mul"]:
            _scale_into_producer(g, mul)
        feeds = {
            i.name: np.zeros([d.dim_value or 1 for d in i.type.tensor_type.shape.dim], np.float32)
            for i in g.graph.input
            if i.name not in g.consts
        }
        for add in [n for n in g.graph.node if n.op_type == "Add"]:
            relu = g.producer.get(g.const_and_other(add)[1] or "")
            if relu is not None and relu.op_type == "Relu":
                _shift_into_consumers(g, add, shapes, feeds)

    return rewrite_copy(model, rewrite)
