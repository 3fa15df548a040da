"""The `openvino` backend: the bundle's ONNX files, read from hash-checked bytes, on an OpenVINO device.

Settings are chosen, not left to the engine, and read back from the compiled model into `settings`:
- PERFORMANCE_HINT=LATENCY. vaedge calls one graph at a time and waits for it; THROUGHPUT splits the
  cores into streams that only concurrent requests fill, which these synchronous calls never make
  (docs/benchmarks.md has the measurement).
- INFERENCE_PRECISION_HINT=f32 for fp32 files. Left alone, OpenVINO computes in bf16 on CPUs with
  AVX512-BF16/AMX and in f16 on GPUs: 7e-5 max abs difference on this decoder, over the 1e-5 gate.
  fp16/int8 files keep the device's own reduced precision; that is what those variants are for.
- INFERENCE_NUM_THREADS from `threads` when given, else the engine's default (all cores).

On the CPU, a stride-1 ConvolutionBackpropData with one output channel (the course decoder's last
layer) is compiled as a GroupConvolution over its input channels and a ReduceSum, rewritten on
OpenVINO's graph after it reads the hash-checked bytes: the same sums, which its CPU plugin runs
faster (docs/benchmarks.md); onnxruntime runs the ConvTranspose faster, so the ONNX file keeps it.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from vaedge.errors import BundleError, InputError
from vaedge.io.files import describe
from vaedge.quiet import native_stderr_silenced
from vaedge.runtime.graph_ops import check_onnx_ops
from vaedge.runtime.options import EngineOptions

DEVICES = ("CPU", "GPU", "NPU", "AUTO")
PERFORMANCE_HINT = "LATENCY"


@functools.lru_cache(maxsize=1)
def core():
    """The process's one openvino.Core (it holds the device plugins; creating it costs time)."""
    try:
        import openvino
    except ImportError:
        raise InputError("the openvino backend needs OpenVINO: pip install 'vaedge[openvino]'") from None
    with native_stderr_silenced():
        return openvino.Core()


def check_device(device) -> str:
    """`device` (CPU, GPU, NPU or AUTO, any case) if this machine has it; InputError listing what exists."""
    if not isinstance(device, str) or device.upper() not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    device = device.upper()
    available = core().available_devices  # e.g. ["CPU", "GPU.0", "GPU.1"]
    if device != "AUTO" and device not in {d.split(".")[0] for d in available}:
        raise InputError(
            f"OpenVINO device {device} is not available; this machine has {', '.join(available) or 'none'}"
        )
    return device


def one_channel_depthwise(graph) -> int:
    """Rewrite each stride-1, one-output-channel ConvolutionBackpropData of the openvino.Model `graph`
    whose weights are a constant (C, 1, kh, kw) as GroupConvolution (C groups, the taps flipped, pads
    k - 1 - p) + ReduceSum over channels; return how many were rewritten."""
    from openvino import opset13 as ops

    rewritten = 0
    for node in graph.get_ordered_ops():
        if node.get_type_name() != "ConvolutionBackpropData" or node.get_input_size() != 2:
            continue
        attrs, weights = node.get_attributes(), node.input_value(1).get_node()
        if weights.get_type_name() != "Constant" or attrs.get("auto_pad") not in ("explicit", "notset"):
            continue
        kernel = weights.get_data()
        if kernel.ndim != 4 or kernel.shape[1] != 1 or any(attrs["output_padding"]):
            continue
        if list(attrs["strides"]) != [1, 1] or list(attrs["dilations"]) != [1, 1]:
            continue
        kh, kw = kernel.shape[2:]
        begin = [kh - 1 - attrs["pads_begin"][0], kw - 1 - attrs["pads_begin"][1]]
        end = [kh - 1 - attrs["pads_end"][0], kw - 1 - attrs["pads_end"][1]]
        if min(begin + end) < 0:
            continue
        taps = np.ascontiguousarray(kernel[:, :, ::-1, ::-1]).reshape(kernel.shape[0], 1, 1, kh, kw)
        grouped = ops.group_convolution(node.input_value(0), ops.constant(taps), [1, 1], begin, end, [1, 1])
        summed = ops.reduce_sum(grouped, ops.constant(np.array([1], np.int64)), keep_dims=True)
        summed.set_friendly_name(node.get_friendly_name())
        names = node.output(0).get_names()  # the tensor's names (a graph output's too) move with it
        node.output(0).replace(summed.output(0))
        summed.output(0).get_tensor().set_names(names)
        rewritten += 1
    return rewritten


def _reason(exc: Exception) -> str:
    """The line of an OpenVINO error that says what went wrong, not where ("Exception from src/...")."""
    lines = [line for line in str(exc).splitlines() if line.strip() and not line.startswith("Exception from ")]
    return lines[0] if lines else type(exc).__name__


class OpenVinoModel:
    """One compiled OpenVINO model and its infer request, created once and reused for every call."""

    def __init__(self, model: bytes, name: str = "model.onnx", options: EngineOptions = EngineOptions()):
        device = check_device(options.device or "CPU")
        check_onnx_ops(model, name)
        config = {"PERFORMANCE_HINT": PERFORMANCE_HINT}
        if options.precision == "fp32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        if options.threads:
            config["INFERENCE_NUM_THREADS"] = int(options.threads)
        try:
            with native_stderr_silenced():
                graph = core().read_model(bytes(model))  # the ONNX frontend reads the bytes in memory
                if device == "CPU":
                    one_channel_depthwise(graph)
                self.compiled = core().compile_model(graph, device, config)
        except Exception as exc:  # OpenVINO raises RuntimeError/GeneralFailure/... for bad graphs
            raise BundleError(f"{name}: OpenVINO cannot load it ({describe(_reason(exc))})") from None
        self.name, self.device, self.batch = name, device, None
        self.request = self.compiled.create_infer_request()
        self._lock = threading.Lock()  # one infer request: calls from several threads take turns
        # Names and shapes as the file declares them: compiling merges names of folded Casts into the
        # ports (fp16 files: {"image", "graph_input_cast_0"}), so ports are addressed by position.
        self._signature = {
            t.get_any_name(): (
                [d.get_length() if d.is_static else None for d in t.get_partial_shape()],
                np.dtype(t.get_element_type().to_dtype()).name,
            )
            for t in [*graph.inputs, *graph.outputs]
        }
        self.input_names = [t.get_any_name() for t in graph.inputs]
        self.output_names = [t.get_any_name() for t in graph.outputs]
        self.settings = {"device": device, **self._read_back(config)}

    def _read_back(self, config: dict) -> dict:
        """What the compiled model really uses (AUTO may not report every property)."""
        settings = {}
        for key in (
            "EXECUTION_DEVICES",
            "PERFORMANCE_HINT",
            "INFERENCE_PRECISION_HINT",
            "INFERENCE_NUM_THREADS",
            "NUM_STREAMS",
        ):
            try:
                value = self.compiled.get_property(key)
            except Exception:  # a property this device plugin does not report: record what was asked
                value = config.get(key)
            if hasattr(value, "get_type_name"):  # an element type: "f32", "bf16", "f16"
                value = value.get_type_name()
            elif hasattr(value, "name"):  # an enum (AUTO reports PerformanceMode.LATENCY)
                value = value.name
            settings[key.lower()] = value if isinstance(value, (int, list)) or value is None else str(value)
        return settings

    @property
    def providers(self) -> list[str]:
        return [f"OpenVINO {d}" for d in self.settings.get("execution_devices") or [self.device]]

    def signature(self) -> dict[str, tuple[list, str]]:
        """{tensor name: (shape with None for dynamic dims, dtype)} of inputs and outputs."""
        return dict(self._signature)

    def quantization(self) -> dict[str, dict]:
        return {}  # the bundle's ONNX files all take and return float32

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with self._lock:
            outputs = self.request.infer(
                {i: np.ascontiguousarray(feeds[name]) for i, name in enumerate(self.input_names)}
            )
            return {name: outputs[i] for i, name in enumerate(self.output_names)}  # copies, not views


def open_engine(model: bytes, name: str, options: EngineOptions) -> OpenVinoModel:
    return OpenVinoModel(model, name, options)
