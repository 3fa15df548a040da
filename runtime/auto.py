"""`backend="auto"`: for each call, the installed engine measured fastest at that batch size on this machine.

Which engine wins depends on the CPU, the engine versions and the graph (onnxruntime at batch 1,
OpenVINO or LiteRT from batch 64 on one Xeon; another order on a loaded machine), so it is measured,
not fixed: decoder calls on every candidate at batch 1, 64 and 256, in interleaved rounds (about three
and a half seconds in all), once, kept in a per-user cache file (never inside the bundle, which may be signed)
keyed by the CPU model, the engine versions, the bundle's manifest sha256 and the options. A call of
n rows then goes to the engine whose measured call times, interpolated at n, are shortest (near-ties
to a fixed order); an engine is opened on its first call.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaedge import __version__
from vaedge.errors import BundleError, VaedgeError
from vaedge.io.files import describe, read_regular
from vaedge.runtime.backends import REGISTRY, Backend, check_options, open_role
from vaedge.runtime.manifest import Manifest
from vaedge.runtime.options import AUTO, EngineOptions

BATCHES = (1, 64, 256)  # the batch sizes measured; calls in between are interpolated
ROUNDS = 5  # interleaved rounds over every engine and batch size; each figure is the median of its rounds
SLICE_S = 0.06  # seconds of calls per engine, batch size and round
SETTLE_S = 0.06  # idle seconds before another engine's slices: onnxruntime's threads spin ~50 ms after a call
TIE = 0.05  # engines within this fraction of the fastest count as tied: the first in REGISTRY order wins
MAX_CACHE_BYTES = 1 << 20
MAX_ENTRIES = 64  # older entries are dropped: one per bundle, precision and option set


def cache_path() -> Path:
    """$XDG_CACHE_HOME/vaedge/engines.json, or ~/.cache/vaedge/engines.json (per user)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"  # the XDG spec ignores relative paths
    return root / "vaedge" / "engines.json"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else platform's), and its core count."""
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    if not name:
        import platform

        name = platform.processor() or platform.machine()
    return f"{name} x{os.cpu_count()}"


def engine_version(row: Backend) -> str:
    """Where the engine's package is installed and when that file was written: an upgrade or reinstall
    changes it (so auto measures again), and reading it imports nothing (importlib.metadata would cost a
    cold start tens of milliseconds)."""
    import importlib.util

    spec = importlib.util.find_spec(row.requires)
    origin = spec.origin if spec is not None else None
    if not origin or not os.path.exists(origin):
        return "unknown"
    return f"{origin}@{os.stat(origin).st_mtime_ns}"


def candidates(manifest: Manifest, options: EngineOptions) -> list[Backend]:
    """Installed engines that have both roles' files of their format at `options.precision` and take the options."""
    precision, rows = options.precision, []
    for row in REGISTRY.values():
        if row.batches is not None:  # TFLM: a microcontroller's kernels on the host, chosen by name only
            continue
        if not row.installed() or not all(manifest.find_all(r, row.format, precision) for r in ("encoder", "decoder")):
            continue
        try:
            check_options(row, options.providers, options.device)
        except VaedgeError:
            continue
        rows.append(row)
    if not rows:
        have = sorted({f"{f.format} {f.precision}" for f in manifest.files})
        raise BundleError(
            f"{describe(manifest.root)}: no installed engine runs its {precision} files "
            f"(files: {', '.join(have) or 'none'}; engines: "
            f"{', '.join(r.name for r in REGISTRY.values() if r.installed()) or 'none'})"
        )
    return rows


def measure(
    engines: dict, latent_dim: int, rounds: int = ROUNDS, slice_s: float = SLICE_S, settle_s: float = SETTLE_S
) -> dict[str, dict[int, float]]:
    """{engine name: {batch: img/s}} of the decoder `engines` ({name: engine}) at each of BATCHES.

    Interleaved and repeated, so that a burst of load hits every engine alike and two runs on a quiet
    machine agree: one warm-up call each, then `rounds` rounds, each timing every engine (in a rotated
    order, each engine's turn after `settle_s` idle) for `slice_s` at every batch after untimed calls
    (`_rate`); an engine's figure is the median of its rounds. A batch whose
    call would take over 5 slices on an engine is extrapolated from its largest measured batch."""
    z = np.random.default_rng(0).standard_normal((max(BATCHES), latent_dim)).astype(np.float32)
    names = list(engines)
    samples: dict[str, dict[int, list[float]]] = {name: {b: [] for b in BATCHES} for name in names}
    for name in names:
        for batch in BATCHES:
            engines[name].run({"z": z[:batch]})
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            if len(names) > 1:
                time.sleep(settle_s)  # else the engine before may still spin on both cores: b=1 at under half its speed
            for batch in BATCHES:
                measured = [b for b in BATCHES if samples[name][b]]
                if measured and batch / max(samples[name][max(measured)]) > 5 * slice_s:
                    continue  # a slow engine: don't spend seconds on it
                samples[name][batch].append(_rate(engines[name], {"z": z[:batch]}, batch, slice_s))
    speeds = {}
    for name in names:
        rates = {b: float(np.median(v)) for b, v in samples[name].items() if v}
        largest = max(rates)
        speeds[name] = {b: round(rates.get(b, rates[largest]), 1) for b in BATCHES}
    return speeds


def _rate(engine, feeds: dict, batch: int, slice_s: float) -> float:
    """img/s of calls on `engine` over about `slice_s` (at least one call), after a quarter of that in
    untimed calls: the slice before was another engine's, whose threads may still be spinning."""
    start = time.perf_counter()
    while time.perf_counter() - start < slice_s / 4:
        engine.run(feeds)
    calls, start = 0, time.perf_counter()
    while True:
        engine.run(feeds)
        calls += 1
        took = time.perf_counter() - start
        if took >= slice_s:
            return batch * calls / max(took, 1e-9)


@dataclass
class Choice:
    """The measured decoder img/s per engine and batch size; `pick(n)` the engine for a call of n rows."""

    precision: str
    speeds: dict[str, dict[int, float]]  # backend name -> {batch: img/s}
    cached: bool  # read from the cache file (False: measured in this process)
    _picks: dict = field(default_factory=dict, repr=False, compare=False)  # n -> pick(n)

    def seconds(self, name: str, n: int) -> float:
        """A call of n rows on `name`: call times interpolated linearly in n between the measured batches."""
        points = sorted((b, b / s) for b, s in self.speeds[name].items())
        if n >= points[-1][0]:
            return points[-1][1] * n / points[-1][0]
        return float(np.interp(n, [b for b, _ in points], [t for _, t in points]))

    def pick(self, n: int) -> str:
        """The engine for a call of n rows: the fastest, or, among engines within TIE of it, the first in
        REGISTRY's order, so that measurement noise between near-equal engines does not flip the pick.
        Worked out once per n: a batch-1 call is ~0.2 ms, and interpolating every engine's times each call
        would add a quarter to it."""
        picked = self._picks.get(n)
        if picked is None:
            fastest = min(self.seconds(name, n) for name in self.speeds)
            tied = [name for name in self.speeds if self.seconds(name, n) <= fastest * (1 + TIE)]
            order = list(REGISTRY)
            picked = min(tied, key=lambda name: (order.index(name) if name in order else len(order), name))
            self._picks[n] = picked
        return picked

    @property
    def winners(self) -> list[str]:
        return list(dict.fromkeys(self.pick(b) for b in BATCHES))

    def describe(self) -> str:
        """e.g. 'auto (fp32, measured): batch 1 onnx, 64 openvino, 256 openvino; img/s onnx 5007/4561/4253, ...'."""
        picks = ", ".join(f"{b} {self.pick(b)}" for b in BATCHES)
        speeds = "; ".join(f"{name} " + "/".join(f"{v[b]:.0f}" for b in BATCHES) for name, v in self.speeds.items())
        return (
            f"auto ({self.precision}, {'cached' if self.cached else 'measured'}): batch {picks}; "
            f"decoder img/s at batch {'/'.join(map(str, BATCHES))}: {speeds}"
        )

    def as_dict(self) -> dict:
        return {
            "precision": self.precision,
            "cached": self.cached,
            "picks": {str(b): self.pick(b) for b in BATCHES},
            "img_per_s": {name: {str(b): round(s, 1) for b, s in v.items()} for name, v in self.speeds.items()},
        }


def cache_key(manifest: Manifest, rows: list[Backend], options: EngineOptions) -> dict:
    return {
        "cpu": cpu_model(),
        "vaedge": __version__,
        "engines": {r.name: engine_version(r) for r in rows},
        "manifest_sha256": manifest.raw.get("manifest_sha256"),
        "precision": options.precision,
        "providers": list(options.providers or []),
        "threads": options.threads,
        "device": options.device,
    }


def _warn(message: str) -> None:
    import logging

    logging.getLogger("vaedge.runtime.auto").warning(message)


def read_cache(path: Path) -> list[dict]:
    """The cache's entries; [] when absent, and [] with one line on stderr when unreadable or corrupt."""
    try:
        if not path.exists() and not path.is_symlink():
            return []
        raw = json.loads(read_regular(path, MAX_CACHE_BYTES, follow_symlinks=False))
        entries = raw["entries"]
        for entry in entries:
            speeds = entry["img_per_s"]
            if (
                not isinstance(entry["key"], dict)
                or not speeds
                or any(
                    sorted(map(int, v)) != list(BATCHES) or not all(np.isfinite(x) and x > 0 for x in v.values())
                    for v in speeds.values()
                )
            ):
                raise ValueError("bad entry")
        return entries
    except (VaedgeError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        _warn(f"vaedge: ignoring the engine cache {describe(path)} ({type(exc).__name__}); it will be rewritten")
        return []


def write_cache(path: Path, entries: list[dict]) -> None:
    from vaedge.io import atomic

    try:
        atomic.write_json(
            path,
            {
                "about": "vaedge --backend auto: decoder img/s per engine, measured on this machine",
                "entries": entries[-MAX_ENTRIES:],
            },
        )
    except (VaedgeError, OSError) as exc:  # a read-only home: measure again next time
        _warn(f"vaedge: cannot write the engine cache {describe(path)} ({exc})")


def _cached(entries: list[dict], key: dict, precision: str) -> Choice | None:
    for entry in entries:
        if entry["key"] == key and set(entry["img_per_s"]) == set(key["engines"]):
            speeds = {name: {int(b): float(s) for b, s in v.items()} for name, v in entry["img_per_s"].items()}
            return Choice(precision, speeds, cached=True)
    return None


def _cache_file() -> Path | None:
    try:
        return cache_path()
    except RuntimeError:  # no home directory to be found: measure every time
        return None


def cached_choice(manifest: Manifest, options: EngineOptions) -> Choice | None:
    """The cached Choice for this bundle and `options.precision` on this machine, or None: nothing is measured."""
    rows = candidates(manifest, options)
    path = _cache_file()
    return _cached(read_cache(path) if path else [], cache_key(manifest, rows, options), options.precision)


def choose(manifest: Manifest, loaded: dict, options: EngineOptions) -> tuple[Choice, dict]:
    """The Choice for this bundle and `options.precision`, from the cache or measured now (then cached),
    and {backend name: {role: engine}} of the engines opened to measure (empty when cached).
    `loaded`: {path: hash-checked bytes}."""
    rows = candidates(manifest, options)
    key = cache_key(manifest, rows, options)
    path = _cache_file()
    entries = read_cache(path) if path else []
    precision = options.precision
    cached = _cached(entries, key, precision)
    if cached is not None:
        return cached, {}
    opened = {}
    for row in rows:  # both roles open: every engine checks every file once per manifest sha256
        opened[row.name] = {
            role: open_role(manifest, role, options.for_backend(row), loaded) for role in ("encoder", "decoder")
        }
    speeds = measure({name: roles["decoder"] for name, roles in opened.items()}, manifest.latent_dim)
    entries = [e for e in entries if e["key"] != key]
    measured = {name: {str(b): s for b, s in v.items()} for name, v in speeds.items()}
    if path:
        write_cache(path, [*entries, {"key": key, "img_per_s": measured}])
    return Choice(precision, speeds, cached=False), opened


class AutoEngine:
    """One role on several engines: each call of n rows runs on `choice.pick(n)`. Takes any n.

    An engine is opened on its first call (`open_engine(name)`), so a process that only ever decodes
    64 rows imports and opens one engine. Safe: every candidate already opened these very files
    (same manifest sha256) when it was measured."""

    batch = None

    def __init__(self, open_engine, choice: Choice, role_file, engines: dict | None = None):
        self.choice, self._open_engine = choice, open_engine
        self.engines: dict[str, object] = dict(engines or {})  # backend name -> opened engine
        self.input_names = [t["name"] for t in role_file.inputs]
        self.output_names = [t["name"] for t in role_file.outputs]
        self._lock = threading.Lock()
        self.last = None  # the backend name of the last call
        self.ran: dict[str, None] = {}  # backend names that ran a call, in order (an ordered set)

    def engine(self, name: str):
        with self._lock:
            if name not in self.engines:
                self.engines[name] = self._open_engine(name)
            return self.engines[name]

    def engine_for(self, n: int):
        return self.engine(self.choice.pick(n))

    @property
    def name(self) -> str:
        """The files of the engines that ran a call (before any: those opened), comma-joined. Not every
        engine opened: a measured process keeps every winner it measured, a cached one opens on use."""
        names = [name for name in self.ran if name in self.engines] or list(self.engines)
        return ", ".join(dict.fromkeys(self.engines[name].name for name in names))

    @property
    def settings(self) -> dict:
        return {
            "backend": AUTO,
            "picks": self.choice.as_dict()["picks"],
            **{name: e.settings for name, e in self.engines.items()},
        }

    @property
    def providers(self) -> list[str]:
        """The providers of the engine that ran the last call (before any: the one for the largest batch)."""
        return self.engine(self.last or self.choice.pick(max(BATCHES))).providers

    def signature(self) -> dict[str, tuple[list, str]]:
        signature = self.engine_for(max(BATCHES)).signature()
        return {k: ([None, *shape[1:]], dtype) for k, (shape, dtype) in signature.items()}

    def quantization(self) -> dict[str, dict]:
        return {}

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        name = self.choice.pick(len(next(iter(feeds.values()))))
        engine = self.engine(name)
        self.last = name
        self.ran[name] = None
        return engine.run(feeds)


def open_auto(manifest: Manifest, loaded: dict, options: EngineOptions):
    """(encoder, decoder, choice): both roles as AutoEngines that open the engine a call needs on first use
    (the decoders measured in this process are reused). `loaded`: {path: hash-checked bytes}."""
    choice, measured = choose(manifest, loaded, options)
    precision, roles = options.precision, {}
    for role in ("encoder", "decoder"):

        def open_engine(name, role=role):
            return open_role(manifest, role, options.for_backend(REGISTRY[name]), loaded)

        first = REGISTRY[choice.winners[0]]
        reuse = {name: e[role] for name, e in measured.items() if name in choice.winners}
        roles[role] = AutoEngine(open_engine, choice, manifest.find(role, first.format, precision), reuse)
    return roles["encoder"], roles["decoder"], choice
