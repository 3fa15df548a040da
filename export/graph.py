"""A thin, mutable view of an ONNX graph for vaedge's rewrite passes, and the tools they share."""

from __future__ import annotations

import collections
from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper


class Graph:
    """Producers, consumers and constants of a graph, kept in step with its edits."""

    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.graph = model.graph
        self.consts = {i.name: i for i in self.graph.initializer}
        self.refresh()

    def refresh(self):
        self.producer = {o: n for n in self.graph.node for o in n.output}
        self.consumers = collections.defaultdict(list)
        for n in self.graph.node:
            for i in n.input:
                self.consumers[i].append(n)
        self.graph_outputs = {o.name for o in self.graph.output}

    def const(self, name):
        return numpy_helper.to_array(self.consts[name]) if name in self.consts else None

    def uses(self, name) -> int:
        return len(self.consumers[name]) + (name in self.graph_outputs)

    def set_const(self, node, index, array, name: str | None = None):
        """Give `node.input[index]` a fresh initializer holding `array`."""
        name = name or f"{node.input[index]}__folded"
        while name in self.consts:
            name += "_"
        array = array if array.dtype.kind in "iu" else array.astype(np.float32)
        tensor = numpy_helper.from_array(np.ascontiguousarray(array), name)
        self.graph.initializer.append(tensor)
        self.consts[name] = tensor
        node.input[index] = name

    def const_and_other(self, node):
        """For a binary node with one constant operand: (constant array, other input name)."""
        a, b = node.input
        if self.const(b) is not None and self.const(a) is None:
            return self.const(b), a
        if self.const(a) is not None and self.const(b) is None:
            return self.const(a), b
        return None, None

    def bypass(self, node, replacement: str):
        """Remove `node`, feeding its consumers from `replacement` instead."""
        for consumer in self.consumers[node.output[0]]:
            for k, name in enumerate(consumer.input):
                if name == node.output[0]:
                    consumer.input[k] = replacement
        self.graph.node.remove(node)
        self.refresh()

    def replace(self, node, new_nodes: list) -> None:
        """Put `new_nodes` where `node` stood, in order, and drop `node`."""
        index = list(self.graph.node).index(node)
        self.graph.node.remove(node)
        for offset, new in enumerate(new_nodes):
            self.graph.node.insert(index + offset, new)
        self.refresh()

    def drop_unused_consts(self):
        used = {i for n in self.graph.node for i in n.input}
        for name in [n for n in self.consts if n not in used]:
            self.graph.initializer.remove(self.consts.pop(name))


def node_attrs(node) -> dict:
    """{name: value} of a node's attributes."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def quiet(ort):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the probes leave initializers unused on purpose
    return options


def trace_shapes(model: onnx.ModelProto) -> tuple[dict, dict]:
    """({tensor: shape at batch 1}, {graph input: zeros}) from one real onnxruntime run."""
    import onnxruntime as ort

    consts = {i.name for i in model.graph.initializer}
    feeds = {
        i.name: np.zeros([d.dim_value or 1 for d in i.type.tensor_type.shape.dim], np.float32)
        for i in model.graph.input
        if i.name not in consts
    }
    traced = onnx.ModelProto()
    traced.CopyFrom(model)
    names = [o for n in traced.graph.node for o in n.output if o]
    del traced.graph.output[:]
    traced.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names)
    session = ort.InferenceSession(traced.SerializeToString(), quiet(ort), providers=["CPUExecutionProvider"])
    shapes = {n: v.shape for n, v in zip(names, session.run(None, feeds)) if isinstance(v, np.ndarray)}
    shapes.update({name: value.shape for name, value in feeds.items()})
    return shapes, feeds


def rewrite_copy(model: onnx.ModelProto, rewrite: Callable[[Graph, dict], None]) -> onnx.ModelProto:
    """Apply `rewrite(graph, shapes at batch 1)` to a copy of `model`; drop dead constants; check it."""
    result = onnx.ModelProto()
    result.CopyFrom(model)
    graph = Graph(result)
    rewrite(graph, trace_shapes(result)[0])
    graph.drop_unused_consts()
    onnx.checker.check_model(result)
    return result
