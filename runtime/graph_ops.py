"""Which operators a graph file holds, read before any engine loads it, and the set a bundle may hold.

vaedge's graphs are straight-line convolutional nets: no control flow, no random ops, no custom
domains. A graph with a `Loop` that never ends would hang the runtime, so anything outside the
allowed set is refused. ONNX files are scanned with a small protobuf wire-format reader (the base
install has no `onnx` package): ModelProto.graph (7) -> GraphProto.node (1) -> NodeProto.op_type
(4), .domain (7), and every attribute's subgraphs (AttributeProto.g = 6, .graphs = 11).

A bundle's graphs are self-contained: a tensor whose data lives in an external file
(TensorProto.data_location = EXTERNAL (14 = 1), or any .external_data (13) entry) is refused, in
initializers (GraphProto 5), sparse initializers (15) and Constant-style attributes (AttributeProto
.t = 5, .tensors = 10, .sparse_tensor = 22, .sparse_tensors = 23). onnxruntime refuses a path that
leaves the model's folder, but other engines (OpenVINO) read any path, so no engine is left to decide.
"""

from __future__ import annotations

from vaedge.errors import BundleError

ONNX_OPS = frozenset(
    {
        "Add",
        "AveragePool",
        "BatchNormalization",
        "Cast",
        "Clip",
        "Concat",
        "Constant",
        "ConstantOfShape",
        "Conv",
        "ConvTranspose",
        "DepthToSpace",
        "DequantizeLinear",
        "Div",
        "DynamicQuantizeLinear",
        "Exp",
        "Expand",
        "Flatten",
        "Gather",
        "Gemm",
        "GlobalAveragePool",
        "Identity",
        "LeakyRelu",
        "Log",
        "MatMul",
        "MatMulInteger",
        "MaxPool",
        "Mul",
        "Neg",
        "Pad",
        "QLinearConv",
        "QLinearMatMul",
        "QuantizeLinear",
        "Reciprocal",
        "Relu",
        "Reshape",
        "Resize",
        "Shape",
        "Sigmoid",
        "Slice",
        "Softplus",
        "SpaceToDepth",
        "Split",
        "Sqrt",
        "Squeeze",
        "Sub",
        "Tanh",
        "Transpose",
        "Unsqueeze",
        "Upsample",
    }
)
ONNX_DOMAINS = frozenset({"", "ai.onnx"})
TFLITE_OPS = frozenset(
    {
        "ADD",
        "AVERAGE_POOL_2D",
        "CAST",
        "CONCATENATION",
        "CONV_2D",
        "DEPTH_TO_SPACE",
        "DEPTHWISE_CONV_2D",
        "DEQUANTIZE",
        "DIV",
        "EXP",
        "FULLY_CONNECTED",
        "GATHER",
        "LEAKY_RELU",
        "LOG",
        "LOGISTIC",
        "MAX_POOL_2D",
        "MUL",
        "PACK",
        "PAD",
        "QUANTIZE",
        "RELU",
        "RELU6",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "RESIZE_NEAREST_NEIGHBOR",
        "SHAPE",
        "SLICE",
        "SPACE_TO_DEPTH",
        "SQRT",
        "SQUEEZE",
        "STRIDED_SLICE",
        "SUB",
        "SUM",
        "TANH",
        "TRANSPOSE",
        "TRANSPOSE_CONV",
    }
)
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


EXTERNAL = ("external", "data")  # the (domain, op) recorded for a tensor with external data


def _external(tensor: memoryview, sparse: bool = False) -> bool:
    """True if a TensorProto (or a SparseTensorProto's values/indices) keeps its data in another file."""
    for number, wire, value in _fields(tensor):
        if sparse and number in (1, 2) and wire == 2 and _external(value):
            return True
        if not sparse and ((number == 13 and wire == 2) or (number == 14 and wire == 0 and value != 0)):
            return True
    return False


def _graph_ops(graph: memoryview, found: set, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("subgraphs nested too deep")
    for number, wire, value in _fields(graph):
        if number in (5, 15) and wire == 2 and _external(value, sparse=number == 15):
            found.add(EXTERNAL)
        if number != 1 or wire != 2:
            continue
        op, domain = "", ""
        for n, w, v in _fields(value):
            if n == 4 and w == 2:
                op = bytes(v).decode("utf-8", "replace")
            elif n == 7 and w == 2:
                domain = bytes(v).decode("utf-8", "replace")
            elif n == 5 and w == 2:  # an attribute: its subgraphs and tensors count too
                for an, aw, av in _fields(v):
                    if an in (6, 11) and aw == 2:
                        _graph_ops(av, found, depth + 1)
                    elif an in (5, 10, 22, 23) and aw == 2 and _external(av, sparse=an in (22, 23)):
                        found.add(EXTERNAL)
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
    if EXTERNAL in ops:
        raise BundleError(
            f"{name}: holds a tensor whose data lives in another file (ONNX external data); "
            "a bundle's graphs must be self-contained"
        )
    _refuse(name, ops, lambda d, op: d in ONNX_DOMAINS and op in ONNX_OPS)


def _refuse(name: str, ops: set[tuple[str, str]], allowed) -> None:
    """Raise BundleError naming every (domain, op) of `ops` that `allowed(domain, op)` refuses, or an empty graph."""
    refused = sorted(f"{d + '.' if d else ''}{op}" for d, op in ops if not allowed(d, op))
    if refused:
        raise BundleError(
            f"{name}: holds operators a vaedge bundle never needs: {', '.join(refused)} "
            "(control flow, random or custom ops are refused)"
        )
    if not ops:
        raise BundleError(f"{name}: holds no graph")


# com.microsoft kernels that onnxruntime's optimiser (ORT_ENABLE_ALL, CPU) fuses the allowed ops into:
# what an .ort file (ORT format, saved after those optimisations) may hold beside ONNX_OPS
ORT_CONTRIB_OPS = frozenset(
    {
        "DynamicQuantizeMatMul",
        "FusedConv",
        "FusedGemm",
        "FusedMatMul",
        "MatMulIntegerToFloat",
        "NhwcMaxPool",
        "QGemm",
        "QLinearAdd",
        "QLinearAveragePool",
        "QLinearConcat",
        "QLinearConv",
        "QLinearGlobalAveragePool",
        "QLinearLeakyRelu",
        "QLinearMul",
        "QLinearSigmoid",
    }
)
ORT_ONNX_OPS = ONNX_OPS | {"Max", "Min"}  # e.g. a Clip of an fp16 graph, rewritten by the optimiser
ORT_IDENTIFIER = b"ORTM"  # the flatbuffer file identifier onnxruntime recognises ORT format bytes by


def is_ort_format(data: bytes) -> bool:
    """True for bytes onnxruntime loads as an ORT format model (whatever the file is called)."""
    return len(data) >= 8 and bytes(data[4:8]) == ORT_IDENTIFIER


def ort_ops(data: bytes) -> set[tuple[str, str]]:
    """{(domain, op type)} of an ORT format model's main graph (ValueError if it cannot be read), read with
    runtime.flatbuffer_check's bounds-checked reader (onnxruntime's generated reader costs a cold start ~20 ms
    of imports). Fields of onnxruntime's ort.fbs: InferenceSession.model (1) -> Model.graph (7) ->
    Graph.nodes (2) -> Node.domain (2), Node.op_type (5)."""
    from vaedge.runtime.flatbuffer_check import _Fault, _Reader

    try:
        reader = _Reader(data)
        session = reader.table(reader.follow(0, "root offset"), "session")
        model = session.table(1, "model")
        graph = model.table(7, "graph") if model is not None else None
        if graph is None:
            return set()
        return {(node.string(2, "node domain"), node.string(5, "node op_type")) for node in graph.tables(2, "nodes")}
    except _Fault as fault:
        raise ValueError(str(fault)) from None


def check_ort_ops(data: bytes, name: str) -> None:
    """Raise BundleError if the ORT format bytes hold an operator outside what a bundle may hold."""
    try:
        ops = ort_ops(data)
    except ValueError as exc:
        raise BundleError(f"{name}: not a readable ORT format model ({exc})") from None
    _refuse(
        name,
        ops,
        lambda d, op: d in ONNX_DOMAINS and op in ORT_ONNX_OPS or d == "com.microsoft" and op in ORT_CONTRIB_OPS,
    )


def check_tflite_ops(names: list[str], name: str) -> None:
    """Raise BundleError if a TFLite graph holds an operator outside what a bundle may hold."""
    refused = sorted(set(names) - TFLITE_OPS)
    if refused:
        raise BundleError(
            f"{name}: holds operators a vaedge bundle never needs: {', '.join(refused)} "
            "(control flow, random or custom ops are refused)"
        )
