"""Which operators a graph file holds, read before any engine loads it, and the set a bundle may hold.

vaedge's graphs are straight-line convolutional nets: no control flow, no random ops, no custom
domains. A graph with a `Loop` that never ends would hang the runtime, so anything outside the
allowed set is refused. ONNX files are scanned with a small protobuf wire-format reader (the base
install has no `onnx` package): ModelProto.graph (7) -> GraphProto.node (1) -> NodeProto.op_type
(4), .domain (7), and every attribute's subgraphs (AttributeProto.g = 6, .graphs = 11).
"""

from __future__ import annotations

from vaedge.errors import BundleError

ONNX_OPS = frozenset({
    "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv",
    "ConvTranspose", "DepthToSpace", "DequantizeLinear", "Div", "DynamicQuantizeLinear", "Exp", "Expand",
    "Flatten", "Gather", "Gemm", "GlobalAveragePool", "Identity", "LeakyRelu", "Log", "MatMul", "MatMulInteger",
    "MaxPool", "Mul", "Neg", "Pad", "QLinearConv", "QLinearMatMul", "QuantizeLinear", "Reciprocal", "Relu",
    "Reshape", "Resize", "Shape", "Sigmoid", "Slice", "Softplus", "SpaceToDepth", "Split", "Sqrt", "Squeeze",
    "Sub", "Tanh", "Transpose", "Unsqueeze", "Upsample",
})
ONNX_DOMAINS = frozenset({"", "ai.onnx"})
TFLITE_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CAST", "CONCATENATION", "CONV_2D", "DEPTH_TO_SPACE", "DEPTHWISE_CONV_2D",
    "DEQUANTIZE", "DIV", "EXP", "FULLY_CONNECTED", "GATHER", "LEAKY_RELU", "LOG", "LOGISTIC", "MAX_POOL_2D",
    "MUL", "PACK", "PAD", "QUANTIZE", "RELU", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
    "SHAPE", "SLICE", "SPACE_TO_DEPTH", "SQRT", "SQUEEZE", "STRIDED_SLICE", "SUB", "TANH", "TRANSPOSE",
    "TRANSPOSE_CONV",
})
MAX_DEPTH = 8


def _fields(data: memoryview):
    """Yield (field number, wire type, value) of one protobuf message; value is bytes or an int."""
    i, end = 0, len(data)
    while i < end:
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = None, i + 8
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i : i + length], i + length
        elif wire == 5:
            value, i = None, i + 4
        else:
            raise ValueError(f"wire type {wire}")
        if i > end:
            raise ValueError("field runs past the end")
        yield number, wire, value


def _varint(data: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("bad varint")
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def _graph_ops(graph: memoryview, found: set, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("subgraphs nested too deep")
    for number, wire, value in _fields(graph):
        if number != 1 or wire != 2:
            continue
        op, domain = "", ""
        for n, w, v in _fields(value):
            if n == 4 and w == 2:
                op = bytes(v).decode("utf-8", "replace")
            elif n == 7 and w == 2:
                domain = bytes(v).decode("utf-8", "replace")
            elif n == 5 and w == 2:  # an attribute: its subgraphs count too
                for an, aw, av in _fields(v):
                    if an in (6, 11) and aw == 2:
                        _graph_ops(av, found, depth + 1)
        found.add((domain, op))


def onnx_ops(data: bytes) -> set[tuple[str, str]]:
    """{(domain, op_type)} of every node in an ONNX model's graph and subgraphs."""
    found: set = set()
    for number, wire, value in _fields(memoryview(data)):
        if number == 7 and wire == 2:
            _graph_ops(value, found, 0)
    return found


def check_onnx_ops(data: bytes, name: str) -> None:
    """Raise BundleError if the ONNX bytes hold an operator outside what a bundle may hold."""
    try:
        ops = onnx_ops(data)
    except ValueError as exc:
        raise BundleError(f"{name}: not a readable ONNX model ({exc})") from None
    refused = sorted(f"{d + '.' if d else ''}{op}" for d, op in ops if d not in ONNX_DOMAINS or op not in ONNX_OPS)
    if refused:
        raise BundleError(f"{name}: holds operators a vaedge bundle never needs: {', '.join(refused)} "
                          "(control flow, random or custom ops are refused)")
    if not ops:
        raise BundleError(f"{name}: holds no graph")


def check_tflite_ops(names: list[str], name: str) -> None:
    """Raise BundleError if a TFLite graph holds an operator outside what a bundle may hold."""
    refused = sorted(set(names) - TFLITE_OPS)
    if refused:
        raise BundleError(f"{name}: holds operators a vaedge bundle never needs: {', '.join(refused)} "
                          "(control flow, random or custom ops are refused)")
