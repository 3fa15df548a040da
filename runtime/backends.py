"""Run one graph file: onnxruntime for .onnx, LiteRT for .tflite. Inputs and outputs by tensor name."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaedge.errors import BundleError, InputError

PREFERRED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "ROCMExecutionProvider",
    "CoreMLExecutionProvider",
    "DmlExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)


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


class OnnxModel:
    """One onnxruntime session, created once and reused for every call."""

    def __init__(self, path: Path, providers: list[str] | None = None, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=choose_providers(providers))
        except InputError:
            raise
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise BundleError(f"{path}: onnxruntime cannot load it ({str(exc).splitlines()[0]})") from None
        self.path = Path(path)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, feeds)
        return dict(zip(self.output_names, outputs))


class TFLiteModel:
    """One LiteRT interpreter and its serving signature (batch resized on demand)."""

    def __init__(self, path: Path, threads: int | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise InputError("the tflite backend needs LiteRT: pip install 'vaedge[litert]'") from None
        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self.runner = self.interpreter.get_signature_runner()
        except Exception as exc:
            raise BundleError(f"{path}: LiteRT cannot load it ({str(exc).splitlines()[0]})") from None
        self.path = Path(path)
        signature = self.interpreter.get_signature_list()
        (details,) = signature.values()
        self.input_names, self.output_names = list(details["inputs"]), list(details["outputs"])

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.runner(**{k: np.ascontiguousarray(v) for k, v in feeds.items()})
        return {name: np.array(outputs[name]) for name in self.output_names}


def open_model(path: Path, format: str, providers=None, threads=None):
    if format == "onnx":
        return OnnxModel(path, providers, threads)
    if format == "tflite":
        return TFLiteModel(path, threads)
    raise InputError(f"unknown model format {format!r}")
