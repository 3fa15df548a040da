"""`EngineOptions`: which engine runs a bundle's graphs and how, as one frozen value from the CLI to the engine.

`load(...)` takes the options as keywords and packs them here; every function below it passes the
one value on. `checked` refuses bad values before any file is read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vaedge.errors import InputError

AUTO = "auto"
MAX_THREADS = 256


@dataclass(frozen=True)
class EngineOptions:
    """backend: a registry name or "auto"; providers: onnxruntime execution providers (None: the best
    available); threads: intra-op threads (None: the engine decides); device: OpenVINO's device."""

    backend: str = AUTO
    precision: str = "fp32"
    providers: tuple[str, ...] | None = None
    threads: int | None = None
    device: str | None = None

    def for_backend(self, row) -> EngineOptions:
        """These options on the registry row `row`: providers and device kept only where it takes them."""
        return replace(
            self,
            backend=row.name,
            providers=self.providers if row.takes_providers else None,
            device=self.device if row.takes_device else None,
        )


def checked(options: EngineOptions) -> EngineOptions:
    """`options` with each value checked (InputError naming it); providers as a tuple, threads an int,
    an OpenVINO device upper-cased and present on this machine."""
    from vaedge.runtime.backends import backend, check_options
    from vaedge.runtime.inputs import bounded_int
    from vaedge.runtime.manifest import PRECISIONS

    row = None if options.backend == AUTO else backend(options.backend)
    if not isinstance(options.precision, str) or options.precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}, got {options.precision!r}")
    threads = None if options.threads is None else bounded_int(options.threads, "threads", MAX_THREADS)
    providers = options.providers
    if providers is not None and (isinstance(providers, str) or not all(isinstance(p, str) for p in providers)):
        raise InputError(f"providers must be a list of provider names, got {providers!r}")
    if row is not None:
        check_options(row, providers, options.device)
    device = options.device
    if row.takes_device if row is not None else device is not None:
        from vaedge.runtime.openvino_backend import check_device

        device = check_device("CPU" if device is None else device)
    return replace(options, providers=None if providers is None else tuple(providers), threads=threads, device=device)
