"""The `tflite` backend: LiteRT on the bundle's TFLite files, from hash-checked bytes."""

from __future__ import annotations

import os

import numpy as np

from vaedge.errors import BundleError
from vaedge.io.files import describe
from vaedge.quiet import native_stderr_silenced
from vaedge.runtime.graph_ops import check_tflite_ops


def usable_cores() -> int:
    """The cores this process may run on (its affinity, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class TFLiteModel:
    """One LiteRT interpreter and its serving signature."""

    def __init__(self, model: bytes, name: str = "model.tflite", threads: int | None = None, xnnpack: bool = True):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType  # installed: runtime.backends checks first

        threads = threads or usable_cores()  # left unset, LiteRT runs XNNPACK on one thread
        try:
            with native_stderr_silenced():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                # xnnpack=False: LiteRT's builtin kernels, the family TFLM's come from (parity to the LSB)
                resolver = (
                    {}
                    if xnnpack
                    else {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
                )
                self.interpreter = Interpreter(model_content=model, num_threads=threads, **resolver)
                ops = [op["op_name"] for op in self.interpreter._get_ops_details()]
                check_tflite_ops(ops, name)
                self.interpreter.allocate_tensors()  # applies the XNNPACK delegate, which announces itself
                self.runner = self.interpreter.get_signature_runner()
                signature = self.interpreter.get_signature_list()
        except BundleError:
            raise
        except Exception as exc:
            raise BundleError(
                f"{name}: LiteRT cannot load it ({describe(str(exc).splitlines()[0] if str(exc) else '')})"
            ) from None
        if len(signature) != 1:
            raise BundleError(f"{name}: expected one signature, found {len(signature)}")
        self.name = name
        (details,) = signature.values()
        self.input_names, self.output_names = list(details["inputs"]), list(details["outputs"])
        first = self.runner.get_input_details()[self.input_names[0]]["shape_signature"]
        self.batch = int(first[0]) if len(first) and first[0] > 0 else None  # None: a dynamic batch
        self.settings = {"threads": threads}

    @property
    def providers(self) -> list[str]:
        return ["LiteRT"]

    def signature(self) -> dict[str, tuple[list, str]]:
        details = self.runner.get_input_details() | self.runner.get_output_details()
        return {
            name: ([int(d) if d > 0 else None for d in t["shape_signature"]], np.dtype(t["dtype"]).name)
            for name, t in details.items()
        }

    def quantization(self) -> dict[str, dict]:
        """{tensor name: {"scale", "zero_point"}} of the graph's int8 inputs and outputs."""
        details = self.runner.get_input_details() | self.runner.get_output_details()
        return {
            name: {"scale": float(t["quantization"][0]), "zero_point": int(t["quantization"][1])}
            for name, t in details.items()
            if np.dtype(t["dtype"]) == np.int8
        }

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Exactly `batch` rows for a fixed-batch graph (runtime.backends wraps it to take any n)."""
        outputs = self.runner(**{k: np.ascontiguousarray(v) for k, v in feeds.items()})
        return {name: outputs[name] for name in self.output_names}  # GetTensor returns copies already


def open_engine(model: bytes, name: str, options) -> TFLiteModel:
    return TFLiteModel(model, name, options.threads)
