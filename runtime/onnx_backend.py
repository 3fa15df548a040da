"""The `onnx` backend: onnxruntime on the bundle's ONNX files (or their .ort form), from hash-checked bytes."""

from __future__ import annotations

import numpy as np

from vaedge.errors import BundleError, InputError
from vaedge.io.files import describe
from vaedge.runtime.graph_ops import check_onnx_ops, check_ort_ops, is_ort_format

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
            raise InputError(
                f"execution provider {', '.join(missing)} is not available; this onnxruntime has {', '.join(available)}"
            )
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

    def __init__(
        self, model: bytes, name: str = "model.onnx", providers: list[str] | None = None, threads: int | None = None
    ):
        import onnxruntime as ort

        # onnxruntime reads ORT format bytes as such whatever the manifest calls them: check what it will run
        (check_ort_ops if is_ort_format(model) else check_onnx_ops)(model, name)
        chosen = choose_providers(providers)
        try:
            self.session = ort.InferenceSession(model, session_options(threads), providers=chosen)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            raise BundleError(
                f"{name}: onnxruntime cannot load it ({describe(str(exc).splitlines()[0] if str(exc) else '')})"
            ) from None
        self.name, self.batch = name, None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.settings = {"providers": self.session.get_providers(), "threads": threads}

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def quantization(self) -> dict[str, dict]:
        return {}  # the bundle's ONNX files all take and return float32

    def signature(self) -> dict[str, tuple[list, str]]:
        """{tensor name: (shape with None for dynamic dims, dtype)} of inputs and outputs."""
        return {
            t.name: ([d if isinstance(d, int) else None for d in t.shape], ORT_DTYPES.get(t.type, t.type))
            for t in [*self.session.get_inputs(), *self.session.get_outputs()]
        }

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, feeds)
        return dict(zip(self.output_names, outputs))


def open_engine(model: bytes, name: str, options) -> OnnxModel:
    return OnnxModel(model, name, options.providers, options.threads)
