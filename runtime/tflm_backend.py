"""The `tflm` backend: a bundle's TFLite graphs on TensorFlow Lite Micro, the runtime a Cortex-M board runs.

PyPI's `tflite-micro` (`pip install 'vaedge[micro]'`) runs TFLM's C++ kernels and memory planner on
the host with an explicit tensor arena, so what runs here is what a board runs. Graphs are built from
hash-checked bytes like every engine's; their ops are checked against the resolver's before TFLM
sees them. The arena is found by bisection (`smallest_arena`): the figure the manifest's `micro`
section records and `vaedge micro` compiles in.
"""

from __future__ import annotations

import numpy as np

from vaedge.errors import BundleError, InputError
from vaedge.io.files import describe
from vaedge.quiet import native_stderr_silenced
from vaedge.runtime.flatbuffer_check import check_tflite

# op -> its tflite::MicroMutableOpResolver method: the ops a vaedge graph may hold that TFLM has
# (its resolver registers these kernels; tensorflow/lite/micro/micro_mutable_op_resolver.h).
MICRO_OPS = {
    "ADD": "AddAdd",
    "AVERAGE_POOL_2D": "AddAveragePool2D",
    "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D",
    "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize",
    "EXP": "AddExp",
    "FULLY_CONNECTED": "AddFullyConnected",
    "HARD_SWISH": "AddHardSwish",
    "LEAKY_RELU": "AddLeakyRelu",
    "LOGISTIC": "AddLogistic",
    "MAX_POOL_2D": "AddMaxPool2D",
    "MEAN": "AddMean",
    "MUL": "AddMul",
    "PAD": "AddPad",
    "PADV2": "AddPadV2",
    "QUANTIZE": "AddQuantize",
    "RELU": "AddRelu",
    "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "SOFTMAX": "AddSoftmax",
    "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SUB": "AddSub",
    "SUM": "AddSum",
    "TANH": "AddTanh",
    "TRANSPOSE": "AddTranspose",
    "TRANSPOSE_CONV": "AddTransposeConv",
}
ARENA_STEP = 16  # TFLM aligns arena allocations to 16 bytes: the bisection's resolution
MAX_ARENA = 512 * 2**20


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        raise InputError("the tflm backend needs TensorFlow Lite Micro: pip install 'vaedge[micro]'") from None
    return runtime


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def _model(data: bytes):
    check_tflite(data)  # the generated reader raises struct.error (or worse) on a damaged file
    schema = _schema()
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))


def graph_ops(data: bytes) -> list[str]:
    """The builtin ops of the graph's main subgraph, in execution order (read from the flatbuffer)."""
    _runtime()
    model = _model(data)
    names = {code: name for name, code in vars(_schema().BuiltinOperator).items() if not name.startswith("_")}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes or []]
    return [
        names.get(codes[op.opcodeIndex], f"BUILTIN_{codes[op.opcodeIndex]}")
        for op in model.subgraphs[0].operators or []
    ]


def missing_ops(ops) -> list[str]:
    """The ops TFLM's resolver (as vaedge generates it) has no kernel for, sorted."""
    return sorted(set(ops) - set(MICRO_OPS))


def check_shapes(data: bytes, name: str) -> None:
    """Refuse a graph whose declared tensor shapes differ from what its ops compute. TFLM plans and runs
    on the declared shapes without checking them (a forged one ends in a signal), so LiteRT's builtin
    kernels, which compute each shape in Prepare, check them first. Call after flatbuffer_check."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        raise InputError("the tflm backend checks graphs with LiteRT: pip install 'vaedge[micro]'") from None
    try:
        with native_stderr_silenced():
            litert = Interpreter(
                model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
            declared = {t["index"]: [int(d) for d in t["shape"]] for t in litert.get_tensor_details()}
            litert.allocate_tensors()
            computed = {t["index"]: [int(d) for d in t["shape"]] for t in litert.get_tensor_details()}
    except Exception as exc:  # noqa: BLE001 - LiteRT's refusals are RuntimeError or ValueError, typed here
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise BundleError(f"{describe(name)}: LiteRT cannot prepare the graph ({describe(first)})") from None
    wrong = [
        f"tensor {i}: declared {declared[i]}, computed {computed.get(i)}"
        for i in declared
        if declared[i] != computed.get(i)
    ]
    if wrong:
        raise BundleError(f"{describe(name)}: tensor shapes differ from what the ops compute: {'; '.join(wrong[:3])}")


def _interpreter(data: bytes, arena: int):
    with native_stderr_silenced():  # TFLM prints its allocation failures on stderr
        return _runtime().Interpreter.from_bytes(data, arena_size=int(arena))


def loads_with(data: bytes, arena: int) -> bool:
    """True if TFLM loads the graph in an `arena`-byte tensor arena. Loading plans every tensor and
    runs each kernel's Prepare, which requests its scratch buffers: what an invoke needs, allocated."""
    try:
        _interpreter(data, arena)
    except (RuntimeError, ValueError):
        return False
    return True


def runs_with(data: bytes, arena: int) -> bool:
    """True if TFLM loads the graph in an `arena`-byte tensor arena and one invoke on zeros succeeds."""
    try:
        interpreter = _interpreter(data, arena)
        with native_stderr_silenced():
            detail = interpreter.get_input_details(0)
            interpreter.set_input(np.zeros(detail["shape"], detail["dtype"]), 0)
            interpreter.invoke()
    except (RuntimeError, ValueError):
        return False
    return True


def enough_arena(data: bytes) -> int:
    """A tensor arena in which TFLM loads the graph: the first power of two from 64 KiB that does.
    BundleError when even MAX_ARENA is not enough (TFLM cannot run it)."""
    arena = 64 * 1024
    while not loads_with(data, arena):
        if arena >= MAX_ARENA:
            raise BundleError(f"TFLM cannot load the graph even with a {MAX_ARENA} byte arena")
        arena *= 2
    return arena


def smallest_arena(data: bytes) -> int:
    """The smallest tensor arena (bytes, to ARENA_STEP) in which TFLM loads the graph, found by
    bisection, and checked to run one invoke too. BundleError when TFLM cannot run it."""
    low, high = 0, enough_arena(data)
    while high - low > ARENA_STEP:
        middle = (low + high) // 2 // ARENA_STEP * ARENA_STEP
        low, high = (low, middle) if loads_with(data, middle) else (middle, high)
    if not runs_with(data, high):
        raise BundleError(f"TFLM loads the graph in a {high} byte arena but cannot invoke it there")
    return high


class TflmModel:
    """One TFLM interpreter over graph bytes, with the serving signature's tensor names."""

    def __init__(self, model: bytes, name: str = "model.tflite", arena: int | None = None):
        refused = missing_ops(graph_ops(model))
        if refused:
            raise BundleError(f"{name}: TFLM's op resolver has no kernel for {', '.join(refused)}")
        check_shapes(model, name)
        self.name = name
        self.arena = enough_arena(model) if arena is None else int(arena)
        try:
            self.interpreter = _interpreter(model, self.arena)
        except (RuntimeError, ValueError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise BundleError(f"{name}: TFLM cannot load it ({describe(first)})") from None
        signatures = _model(model).signatureDefs or []
        if len(signatures) != 1:
            raise BundleError(f"{name}: expected one signature, found {len(signatures)}")
        graph = _model(model).subgraphs[0]
        by_tensor = {t.tensorIndex: t.name.decode() for t in [*signatures[0].inputs, *signatures[0].outputs]}
        self.input_names = [by_tensor.get(i, str(i)) for i in graph.inputs]
        self.output_names = [by_tensor.get(i, str(i)) for i in graph.outputs]
        self.details = {n: self.interpreter.get_input_details(i) for i, n in enumerate(self.input_names)}
        self.details |= {n: self.interpreter.get_output_details(i) for i, n in enumerate(self.output_names)}
        self.batch = int(self.details[self.input_names[0]]["shape"][0])
        self.settings = {"arena_bytes": self.arena}

    @property
    def providers(self) -> list[str]:
        return ["TFLM"]

    def signature(self) -> dict[str, tuple[list, str]]:
        return {name: ([int(d) for d in t["shape"]], np.dtype(t["dtype"]).name) for name, t in self.details.items()}

    def quantization(self) -> dict[str, dict]:
        """{tensor name: {"scale", "zero_point"}} of the graph's int8 inputs and outputs."""
        found = {}
        for name, t in self.details.items():
            q = t["quantization_parameters"]
            if np.dtype(t["dtype"]) == np.int8:
                found[name] = {"scale": float(q["scales"][0]), "zero_point": int(q["zero_points"][0])}
        return found

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Exactly `batch` rows (runtime.backends wraps the graph to take any n)."""
        for index, name in enumerate(self.input_names):
            wanted = np.dtype(self.details[name]["dtype"])
            self.interpreter.set_input(np.ascontiguousarray(feeds[name], dtype=wanted), index)
        self.interpreter.invoke()
        return {name: np.array(self.interpreter.get_output(i)) for i, name in enumerate(self.output_names)}


def open_engine(model: bytes, name: str, options) -> TflmModel:
    return TflmModel(model, name)
