"""The engines that run a bundle's graphs: one interface (`Engine`), one registry (`REGISTRY`).

`load`, `validate`, `bench`, `evaluate` and the CLI read the registry; adding an engine means one
`Backend` row here and one module with `open_engine(model, name, options)` (options: an EngineOptions).
Engines are built from bytes already read and hash-checked (`loaded`, {path: bytes}, from `read_all`;
else `read_file`), never from a path that could be swapped between the check and the load; their
real tensor names, shapes and dtypes are checked against the manifest before any work.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from vaedge.errors import BundleError, InputError
from vaedge.io.files import describe
from vaedge.runtime.fixed_batch import FixedBatchGraphs, HostQuantized
from vaedge.runtime.flatbuffer_check import check_tflite
from vaedge.runtime.manifest import Manifest, ModelFile, read_file
from vaedge.runtime.options import AUTO, EngineOptions

FORMAT_ENGINE = EngineOptions()  # each file on its format's own engine, with the engine's defaults


class Engine(Protocol):
    """One loaded graph. `batch` is its fixed batch (None: any n); `settings` what it really runs with."""

    name: str
    input_names: list[str]
    output_names: list[str]
    batch: int | None
    settings: dict

    @property
    def providers(self) -> list[str]: ...

    def signature(self) -> dict[str, tuple[list, str]]:
        """{tensor name: (shape with None for dynamic dims, dtype name)} of inputs and outputs."""

    def quantization(self) -> dict[str, dict]:
        """{tensor name: {"scale", "zero_point"}} of the graph's int8 inputs and outputs ({} if none)."""

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class Backend:
    """A registry row: what `--backend NAME` runs, on which files, from which module and pip extra."""

    name: str
    format: str  # the bundle file format it runs: "onnx" or "tflite"
    display: str  # the engine's own name, as tables and `info` show it
    module: str  # the vaedge module with `open_engine`
    requires: str  # the importable package the engine needs
    extra: str | None  # `pip install 'vaedge[extra]'` brings it; None: the base install has it
    takes_providers: bool = False
    takes_device: bool = False
    batches: tuple[int, ...] | None = None  # the fixed batches it runs (None: every graph of its format)
    prefers: str | None = None  # a format it loads instead of `format` where the bundle has that file

    @property
    def formats(self) -> tuple[str, ...]:
        return (self.format,) if self.prefers is None else (self.format, self.prefers)

    def installed(self) -> bool:
        return importlib.util.find_spec(self.requires) is not None

    def open(self, model: bytes, name: str, options: EngineOptions) -> Engine:
        if not self.installed():
            raise InputError(f"the {self.name} backend needs {self.display}: pip install 'vaedge[{self.extra}]'")
        return importlib.import_module(self.module).open_engine(model, name, options)


REGISTRY: dict[str, Backend] = {
    b.name: b
    for b in (
        # onnxruntime loads the .ort form of an ONNX file (pre-optimised for its CPU provider) when present
        Backend(
            "onnx",
            "onnx",
            "onnxruntime",
            "vaedge.runtime.onnx_backend",
            "onnxruntime",
            None,
            takes_providers=True,
            prefers="ort",
        ),
        Backend("tflite", "tflite", "LiteRT", "vaedge.runtime.litert_backend", "ai_edge_litert", "litert"),
        Backend(
            "openvino", "onnx", "OpenVINO", "vaedge.runtime.openvino_backend", "openvino", "openvino", takes_device=True
        ),
        # TensorFlow Lite Micro on the host: the batch-1 graphs a microcontroller runs, same kernels and arena
        Backend("tflm", "tflite", "TFLM", "vaedge.runtime.tflm_backend", "tflite_micro", "micro", batches=(1,)),
    )
}
FORMATS = tuple(dict.fromkeys(f for b in REGISTRY.values() for f in b.formats))


def backend(name) -> Backend:
    """The registry row for `name`; InputError naming every backend otherwise."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise InputError(f"backend must be one of {', '.join(REGISTRY)} or auto, got {name!r}")
    return REGISTRY[name]


def own_engine(format: str) -> Backend:
    """The registry row of the engine a file of `format` runs on by default (ort: onnxruntime's)."""
    return next(b for b in REGISTRY.values() if format in b.formats)


def installed_backends(format: str | None = None) -> list[Backend]:
    """The registry rows whose engine is installed here (and that run `format`, if given)."""
    return [b for b in REGISTRY.values() if b.installed() and (format is None or format in b.formats)]


def check_options(row: Backend, providers=None, device=None) -> None:
    """Refuse options the backend does not take, before any file is read."""
    if providers and not row.takes_providers:
        raise InputError(
            f"providers apply to the onnx backend; {row.display} "
            + ("takes a device" if row.takes_device else "picks its own delegates")
        )
    if device is not None and not row.takes_device:
        raise InputError(f"device applies to the openvino backend, not {row.name}")


def open_model(model: bytes, format: str, name: str, options: EngineOptions = FORMAT_ENGINE) -> Engine:
    """An engine for graph bytes of `format`: `options.backend`, or with "auto" the format's own engine."""
    if format not in FORMATS:
        raise InputError(f"unknown model format {format!r}")
    row = own_engine(format) if options.backend == AUTO else backend(options.backend)
    if format not in row.formats:
        raise InputError(f"the {row.name!r} backend does not run {format!r} files")
    check_options(row, options.providers, options.device)
    if format == "tflite":  # engines and flatbuffers readers trust the bytes: verify them first
        check_tflite(model, name)
    return row.open(model, name, options)


def _open_checked(manifest: Manifest, file: ModelFile, options: EngineOptions, loaded: dict | None) -> Engine:
    """One graph of the bundle, its signature and int8 I/O checked against the manifest."""
    name = describe(manifest.path(file))
    graph = (loaded or {}).get(file.path)
    if graph is None:  # not read yet: read and hash-check it now
        graph = read_file(manifest, file)
    model = open_model(graph, file.format, name, replace(options, precision=file.precision))
    check_signature(model.signature(), file, name)
    if file.quantization or model.quantization():  # int8 I/O: quantized on the host with what both say
        if model.quantization() != file.quantization:
            raise BundleError(
                f"{name}: the graph's int8 quantization {model.quantization()} differs from the "
                f"manifest's {file.quantization}"
            )
        return HostQuantized(model, file.quantization)
    return model


def open_bundle_file(
    manifest: Manifest, file: ModelFile, loaded: dict | None = None, options: EngineOptions = FORMAT_ENGINE
) -> Engine:
    """Load one graph of a bundle from `loaded` ({path: hash-checked bytes}) or, where it lacks the file,
    read and check it now, on `options.backend` ("auto": the file format's own engine). A fixed-batch
    graph is wrapped to take any n."""
    model = _open_checked(manifest, file, options, loaded)
    return FixedBatchGraphs({model.batch: model}) if model.batch else model


def open_role(manifest: Manifest, role: str, options: EngineOptions, loaded: dict | None = None) -> Engine:
    """The engine that runs `role` at `options.precision` on `options.backend` (a registry name): the one
    file for ONNX; for TFLite, every fixed-batch graph of the set with int8 inputs/outputs if the bundle
    has one at this precision (else the float32-I/O set), as one FixedBatchGraphs. `loaded`: {path:
    hash-checked bytes}."""
    row, precision = backend(options.backend), options.precision
    files = _role_files(manifest, role, row, options)
    if row.batches is not None:
        files = [f for f in files if f.batch in row.batches]
        if not files:
            raise BundleError(
                f"{describe(manifest.root)}: no {role} {precision} graph of batch "
                f"{' or '.join(map(str, row.batches))} for the {row.name} backend"
            )
    int8_io = [f for f in files if f.quantization]
    chosen = int8_io or [f for f in files if not f.quantization]
    dynamic = [f for f in chosen if f.batch is None]
    if dynamic:  # ONNX, or a bundle from before fixed batches: one graph takes any n
        return _open_checked(manifest, dynamic[0], options, loaded)
    by_batch = {}
    for f in chosen:
        by_batch.setdefault(f.batch, f)
    return FixedBatchGraphs({batch: _open_checked(manifest, f, options, loaded) for batch, f in by_batch.items()})


def _role_files(manifest: Manifest, role: str, row: Backend, options: EngineOptions) -> list[ModelFile]:
    """The files of `role` at `options.precision` that `row` runs: of the format it prefers where the bundle
    has them and only the CPU provider is asked for (the .ort form is optimised for it), else of its own."""
    cpu_only = set(options.providers or ["CPUExecutionProvider"]) == {"CPUExecutionProvider"}
    if row.prefers is not None and cpu_only:
        preferred = manifest.find_all(role, row.prefers, options.precision)
        if preferred:
            return preferred
    return manifest.find_all(role, row.format, options.precision) or [
        manifest.find(role, row.format, options.precision)
    ]


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
        if (
            len(shape) != len(expected)
            or any(a is not None and e is not None and a != e for a, e in zip(shape, expected))
            or (shape and expected and (shape[0] is None) != (expected[0] is None))
        ):
            problems.append(f"{tensor}: graph shape {shape}, manifest says {declared[tensor]['shape']}")
        if dtype != declared[tensor].get("dtype", "float32"):
            problems.append(f"{tensor}: graph dtype {dtype}, manifest says {declared[tensor].get('dtype', 'float32')}")
    if problems:
        raise BundleError(f"{name}: the graph does not match the manifest: " + "; ".join(problems))
