"""Run one graph: onnxruntime (or OpenVINO) for .onnx, LiteRT for .tflite. Inputs and outputs by tensor name.

Models are built from bytes already read and hash-checked (`open_bundle_file`), never from a path
that could be swapped between the check and the load; their real tensor names, shapes and dtypes
are checked against the manifest before any work.
"""

from __future__ import annotations

import numpy as np

from vaedge.errors import BundleError, InputError
from vaedge.io.files import describe
from vaedge.quiet import native_stderr_silenced
from vaedge.runtime.graph_ops import check_onnx_ops, check_tflite_ops
from vaedge.runtime.manifest import Manifest, ModelFile, read_file

BACKENDS = {"onnx": "onnx", "tflite": "tflite", "openvino": "onnx", "tflm": "tflite"}  # backend -> the format of file it runs
PREFERRED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "ROCMExecutionProvider",
    "CoreMLExecutionProvider",
    "DmlExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)
ORT_DTYPES = {"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(int64)": "int64"}


def available_providers() -> list[str]:
    import onnxruntime as ort

    return ort.get_available_providers()


def choose_providers(requested: list[str] | None) -> list[str]:
    """The requested providers (each must exist), or the best available ones in preference order."""
    available = available_providers()
    if requested:
        missing = [p for p in requested if p not in available]
        if missing:
            raise InputError(f"execution provider {', '.join(missing)} is not available; this onnxruntime has {', '.join(available)}")
        return list(requested)
    # TensorRT needs engine building per shape; it is used only when asked for by name.
    best = [p for p in PREFERRED_PROVIDERS if p in available and p != "TensorrtExecutionProvider"]
    return best or ["CPUExecutionProvider"]


def session_options(threads: int | None = None):
    """onnxruntime SessionOptions as vaedge uses them everywhere: all graph optimisations, quiet logs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


class OnnxModel:
    """One onnxruntime session, created once and reused for every call."""

    def __init__(self, model: bytes, name: str = "model.onnx", providers: list[str] | None = None, threads: int | None = None):
        import onnxruntime as ort

        check_onnx_ops(model, name)
        chosen = choose_providers(providers)
        try:
            self.session = ort.InferenceSession(model, session_options(threads), providers=chosen)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise BundleError(f"{name}: onnxruntime cannot load it ({describe(str(exc).splitlines()[0] if str(exc) else '')})") from None
        self.name = name
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def signature(self) -> dict[str, tuple[list, str]]:
        """{tensor name: (shape with None for dynamic dims, dtype)} of inputs and outputs."""
        return {t.name: ([d if isinstance(d, int) else None for d in t.shape], ORT_DTYPES.get(t.type, t.type))
                for t in [*self.session.get_inputs(), *self.session.get_outputs()]}

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, feeds)
        return dict(zip(self.output_names, outputs))


class TFLiteModel:
    """One LiteRT interpreter and its serving signature."""

    def __init__(self, model: bytes, name: str = "model.tflite", threads: int | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise InputError("the tflite backend needs LiteRT: pip install 'vaedge[litert]'") from None
        try:
            with native_stderr_silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                self.interpreter = Interpreter(model_content=model, num_threads=threads)
                ops = [op["op_name"] for op in self.interpreter._get_ops_details()]
                check_tflite_ops(ops, name)
                self.interpreter.allocate_tensors()  # applies the XNNPACK delegate, which announces itself
                self.runner = self.interpreter.get_signature_runner()
                signature = self.interpreter.get_signature_list()
        except BundleError:
            raise
        except Exception as exc:
            raise BundleError(f"{name}: LiteRT cannot load it ({describe(str(exc).splitlines()[0] if str(exc) else '')})") from None
        if len(signature) != 1:
            raise BundleError(f"{name}: expected one signature, found {len(signature)}")
        self.name = name
        (details,) = signature.values()
        self.input_names, self.output_names = list(details["inputs"]), list(details["outputs"])
        first = self.runner.get_input_details()[self.input_names[0]]["shape_signature"]
        self.batch = int(first[0]) if len(first) and first[0] > 0 else None  # None: a dynamic batch

    def signature(self) -> dict[str, tuple[list, str]]:
        details = self.runner.get_input_details() | self.runner.get_output_details()
        return {name: ([int(d) if d > 0 else None for d in t["shape_signature"]], np.dtype(t["dtype"]).name)
                for name, t in details.items()}

    def quantization(self) -> dict[str, dict]:
        """{tensor name: {"scale", "zero_point"}} of the graph's int8 inputs and outputs."""
        details = self.runner.get_input_details() | self.runner.get_output_details()
        return {name: {"scale": float(t["quantization"][0]), "zero_point": int(t["quantization"][1])}
                for name, t in details.items() if np.dtype(t["dtype"]) == np.int8}

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Any number of rows; a fixed-batch graph runs them in pieces of its batch, the last one padded."""
        rows = len(next(iter(feeds.values())))
        if self.batch is not None and rows != self.batch:
            from vaedge.runtime.fixed_batch import run_pieces

            return run_pieces(lambda _, piece: self.run(piece), feeds, [(self.batch, min(self.batch, rows - start))
                                                                       for start in range(0, rows, self.batch)])
        outputs = self.runner(**{k: np.ascontiguousarray(v) for k, v in feeds.items()})
        return {name: np.array(outputs[name]) for name in self.output_names}


def open_model(model: bytes, format: str, name: str, providers=None, threads=None, backend: str | None = None,
               device: str | None = None, precision: str = "fp32"):
    """An engine for graph bytes of `format` ('onnx' or 'tflite'): `backend`, by default the format's own
    (onnxruntime, LiteRT); `device` and `precision` (the file's) are for the openvino backend."""
    if format not in BACKENDS.values():
        raise InputError(f"unknown model format {format!r}")
    backend = backend or format
    if BACKENDS.get(backend) != format:
        raise InputError(f"the {backend!r} backend does not run {format!r} files")
    if device is not None and backend != "openvino":
        raise InputError(f"device applies to the openvino backend, not {backend}")
    if backend == "onnx":
        return OnnxModel(model, name, providers, threads)
    if providers:
        raise InputError("providers apply to the onnx backend; " + ("OpenVINO takes a device" if backend == "openvino"
                                                                    else "LiteRT picks its own delegates"))
    if backend == "openvino":
        from vaedge.runtime.openvino_backend import OpenVinoModel  # optional: vaedge[openvino]

        return OpenVinoModel(model, name, device or "CPU", threads, precision)
    if backend == "tflm":
        from vaedge.runtime.tflm_backend import TflmModel  # optional: vaedge[micro]

        return TflmModel(model, name)
    return TFLiteModel(model, name, threads)


def open_bundle_file(manifest: Manifest, file: ModelFile, providers=None, threads=None, data: bytes | None = None,
                     backend: str | None = None, device: str | None = None):
    """Load one graph of a bundle from `data` (bytes already read and hash-checked) or read and check
    it now, on `backend` (default: the file format's own engine); then check its real signature against the manifest."""
    name = describe(manifest.path(file))
    model = open_model(read_file(manifest, file) if data is None else data, file.format, name, providers, threads,
                       backend, device, file.precision)
    check_signature(model.signature(), file, name)
    if file.quantization:  # int8 inputs/outputs: quantized on the host with what both manifest and graph say
        from vaedge.runtime.fixed_batch import HostQuantized

        actual = model.quantization() if hasattr(model, "quantization") else {}
        if actual != file.quantization:
            raise BundleError(f"{name}: the graph's int8 quantization {actual} differs from the manifest's {file.quantization}")
        return HostQuantized(model, file.quantization)
    return model


def check_signature(actual: dict[str, tuple[list, str]], file: ModelFile, name: str) -> None:
    """Raise BundleError listing every tensor whose name, shape or dtype differs from the manifest."""
    declared = {t["name"]: t for t in [*file.inputs, *file.outputs]}
    problems = []
    if sorted(actual) != sorted(declared):
        problems.append(f"graph tensors {sorted(actual)}, manifest says {sorted(declared)}")
    for tensor, (shape, dtype) in actual.items():
        if tensor not in declared:
            continue
        expected = [d if isinstance(d, int) else None for d in declared[tensor]["shape"]]
        if len(shape) != len(expected) or any(a is not None and e is not None and a != e for a, e in zip(shape, expected)) \
                or (shape and expected and (shape[0] is None) != (expected[0] is None)):
            problems.append(f"{tensor}: graph shape {shape}, manifest says {declared[tensor]['shape']}")
        if dtype != declared[tensor].get("dtype", "float32"):
            problems.append(f"{tensor}: graph dtype {dtype}, manifest says {declared[tensor].get('dtype', 'float32')}")
    if problems:
        raise BundleError(f"{name}: the graph does not match the manifest: " + "; ".join(problems))
