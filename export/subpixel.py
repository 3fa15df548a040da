"""ConvTranspose -> Conv (+ DepthToSpace): the sub-pixel form of a strided transposed convolution.

For stride s, output row `s*q + r` of a ConvTranspose reads input rows `q + d` through fixed kernel
taps that depend only on the phase r. Gathering every phase's taps into one L x L kernel gives a
stride-1 Conv with s*s*Cout output channels, which DepthToSpace (CRD) interleaves back into the
(s*H, s*W) image. onnxruntime's Conv kernels (NCHWc, fused activations, int8 QLinearConv) are far
faster than its ConvTranspose, at the price of zero taps in the merged kernel. Exact: same sums.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from vaedge.export.graph import Graph, node_attrs, rewrite_copy


def _phase_taps(kernel: int, stride: int, pad_begin: int) -> list[list[tuple[int, int]]]:
    """For each phase r: the (input offset d, kernel tap k) pairs with y[s*q + r] += x[q + d] * w[k]."""
    return [
        [((r + pad_begin - k) // stride, k) for k in range(kernel) if (r + pad_begin - k) % stride == 0]
        for r in range(stride)
    ]


def _rewrite(g: Graph, node, shapes) -> bool:
    attrs = node_attrs(node)
    weight = g.const(node.input[1])
    if weight is None or weight.ndim != 4 or attrs.get("group", 1) != 1 or "output_shape" in attrs:
        return False
    if any(d != 1 for d in attrs.get("dilations", [1, 1])) or any(attrs.get("output_padding", [0, 0])):
        return False
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return False
    c_in, c_out, kh, kw = weight.shape
    sh, sw = attrs.get("strides", [1, 1])
    pads = attrs.get("pads", [0, 0, 0, 0])
    _, _, h_in, w_in = shapes[node.input[0]]
    if tuple(shapes[node.output[0]][2:]) != (sh * h_in, sw * w_in):
        return False  # the sub-pixel form makes exactly s*H x s*W; other crops are left alone
    rows, cols = _phase_taps(kh, sh, pads[0]), _phase_taps(kw, sw, pads[1])
    lo_h, hi_h = min(d for p in rows for d, _ in p), max(d for p in rows for d, _ in p)
    lo_w, hi_w = min(d for p in cols for d, _ in p), max(d for p in cols for d, _ in p)
    merged = np.zeros((c_out, sh, sw, c_in, hi_h - lo_h + 1, hi_w - lo_w + 1), np.float32)
    for a, row_taps in enumerate(rows):
        for b, col_taps in enumerate(cols):
            for dh, th in row_taps:
                for dw, tw in col_taps:
                    merged[:, a, b, :, dh - lo_h, dw - lo_w] = weight[:, :, th, tw].T
    # channel order c_out*s*s + a*s + b is what DepthToSpace(mode=CRD) interleaves
    merged = merged.reshape(c_out * sh * sw, c_in, *merged.shape[-2:])
    conv_pads = [-lo_h, -lo_w, hi_h, hi_w]
    if min(conv_pads) < 0:
        return False
    name = node.name
    bias = g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    conv_out = node.output[0] if (sh, sw) == (1, 1) else f"{node.output[0]}__subpixel"
    conv = helper.make_node(
        "Conv",
        [node.input[0], "", ""],
        [conv_out],
        name=f"{name}/subpixel_conv",
        kernel_shape=list(merged.shape[-2:]),
        pads=conv_pads,
        strides=[1, 1],
    )
    g.set_const(conv, 1, merged, name=f"{name}/subpixel_weight")
    if bias is not None:
        g.set_const(conv, 2, np.repeat(bias, sh * sw), name=f"{name}/subpixel_bias")
    else:
        del conv.input[2]
    new_nodes = [conv]
    if (sh, sw) != (1, 1):
        if sh != sw:
            return False
        new_nodes.append(
            helper.make_node(
                "DepthToSpace", [conv_out], [node.output[0]], name=f"{name}/depth_to_space", blocksize=sh, mode="CRD"
            )
        )
    g.replace(node, new_nodes)
    return True


def subpixel_conv_transpose(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return a copy of `model` with every eligible ConvTranspose in its sub-pixel Conv form."""

    def rewrite(g: Graph, shapes: dict) -> None:
        for node in [n for n in g.graph.node if n.op_type == "ConvTranspose"]:
            _rewrite(g, node, shapes)

    return rewrite_copy(model, rewrite)
