"""A stride-1 Conv or ConvTranspose with one output channel -> a depthwise Conv and a ReduceSum.

The course decoder's last layer (32 channels -> the image) is such a ConvTranspose. Engines run a
one-output convolution as a GEMM one column wide; as a depthwise Conv (each input channel's own taps)
and a sum over channels it is the same sums in ops they vectorise across channels. A stride-1
ConvTranspose with pads p is the Conv of its kernel flipped in space with pads k - 1 - p.

Measured on the course decoder (docs/benchmarks.md): OpenVINO runs it faster, onnxruntime slower, so
the bundle's ONNX files keep the ConvTranspose (onnxruntime is the base install's and the browser's
engine), the openvino backend makes the same rewrite on its own graph at load, and
benchmarks/optimizations.py keeps this one for its A/B; the TFLite graphs get the same form from
export/fold_keras.py, where XNNPACK runs it faster.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from vaedge.export.graph import Graph, node_attrs, rewrite_copy


def _depthwise_form(g: Graph, node) -> tuple[np.ndarray, list[int]] | None:
    """(depthwise weight (C, 1, kh, kw), conv pads) for an eligible node, else None."""
    attrs, weight = node_attrs(node), g.const(node.input[1])
    if weight is None or weight.ndim != 4 or attrs.get("group", 1) != 1:
        return None
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or "output_shape" in attrs:
        return None
    if any(s != 1 for s in attrs.get("strides", [1, 1])) or any(d != 1 for d in attrs.get("dilations", [1, 1])):
        return None
    if any(attrs.get("output_padding", [0, 0])):
        return None
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if node.op_type == "Conv":  # weight (1, C, kh, kw)
        if weight.shape[0] != 1:
            return None
        return weight.transpose(1, 0, 2, 3), pads
    if weight.shape[1] != 1:  # ConvTranspose weight (C, 1, kh, kw)
        return None
    kh, kw = weight.shape[2:]
    conv_pads = [kh - 1 - pads[0], kw - 1 - pads[1], kh - 1 - pads[2], kw - 1 - pads[3]]
    if min(conv_pads) < 0:
        return None
    return weight[:, :, ::-1, ::-1], conv_pads


def _rewrite(g: Graph, node) -> bool:
    form = _depthwise_form(g, node)
    if form is None:
        return False
    weight, pads = form
    name, out = node.name, node.output[0]
    summed = f"{out}__depthwise_sum"
    bias = len(node.input) > 2 and node.input[2]
    conv = helper.make_node(
        "Conv",
        [node.input[0], ""],
        [f"{out}__depthwise"],
        name=f"{name}/depthwise",
        group=weight.shape[0],
        kernel_shape=list(weight.shape[2:]),
        pads=pads,
    )
    g.set_const(conv, 1, weight, name=f"{name}/depthwise_weight")
    reduce = helper.make_node(
        "ReduceSum", [conv.output[0], ""], [summed if bias else out], name=f"{name}/sum", keepdims=1
    )
    g.set_const(reduce, 1, np.array([1], np.int64), name=f"{name}/channel_axis")
    new_nodes = [conv, reduce]
    if bias:
        add = helper.make_node("Add", [summed, ""], [out], name=f"{name}/bias")
        g.set_const(add, 1, g.const(node.input[2]).reshape(1, 1, 1, 1), name=f"{name}/bias_value")
        new_nodes.append(add)
    g.replace(node, new_nodes)
    return True


def one_channel_depthwise(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of `model` with every eligible one-output-channel convolution in depthwise form."""

    def rewrite(g: Graph, shapes: dict) -> None:
        for node in [n for n in g.graph.node if n.op_type in ("Conv", "ConvTranspose")]:
            _rewrite(g, node)

    return rewrite_copy(model, rewrite)
