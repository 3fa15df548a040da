"""Mutated TFLite graphs (truncated, flipped bytes in the header, the buffer table and the operator codes,
huge or negative shapes, offsets pointing out of the file) on every engine that reads them: a typed
refusal or a graph that still runs, never an untyped exception, a traceback or a signal.

Most mutations go through the library's open path with the mutated bytes standing in for the
hash-checked ones (what a re-sealed bundle hands the engines); a few are re-sealed on disk and run
through the real `vaedge` CLI in a subprocess, where a signal would show as a negative exit code.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vaedge.errors import VaedgeError
from vaedge.runtime.flatbuffer_check import _Reader

ENGINES = ("tflite", "tflm", "auto")
FILES = ("encoder.int8io.b1.tflite", "decoder.int8io.b1.tflite")
DEFAULT_PER_ENGINE = 200
FULL_PER_ENGINE = 2000


def regions(data: bytes) -> dict[str, list[int]]:
    """Byte positions of the header, the buffer table, the operator codes and the tensor shapes."""
    reader = _Reader(data)
    model = reader.table(reader.follow(0, "root"), "model")
    header = list(range(0, 8)) + list(range(model.vtable, model.vtable + model.vsize))
    header += list(range(model.at, model.at + model.tsize))
    codes, buffers, shapes = [], [], []
    for code in model.tables(1, "codes"):
        codes += range(code.vtable, code.vtable + code.vsize)
        codes += range(code.at, code.at + code.tsize)
    start, length = model.vector(4, 4, "buffers")
    buffers += range(start - 4, start + 4 * length)
    for buffer in model.tables(4, "buffers"):
        buffers += range(buffer.at, buffer.at + buffer.tsize)
    for tensor in model.tables(2, "subgraphs")[0].tables(0, "tensors"):
        start, length = tensor.vector(0, 4, "shape")
        shapes += [start + 4 * i for i in range(length)]
    return {"header": header, "buffers": buffers, "codes": codes, "shapes": shapes}


def mutations(data: bytes, count: int, seed: int):
    """`count` (kind, bytes) mutations of one TFLite graph, drawn with `seed`."""
    rng, where = random.Random(seed), regions(data)
    kinds = ("truncate", "header", "buffers", "codes", "huge_shape", "offset")
    for i in range(count):
        kind, mutated = kinds[i % len(kinds)], bytearray(data)
        if kind == "truncate":
            mutated = mutated[: rng.randrange(0, len(data))]
        elif kind in ("header", "buffers", "codes"):
            for at in rng.sample(where[kind], rng.randint(1, 3)):
                mutated[at] ^= 1 << rng.randrange(8)
        elif kind == "huge_shape":
            dim = rng.choice([2**31 - 1, 2**20, 65536 * 3, -2, -(2**31)])
            struct.pack_into("<i", mutated, rng.choice(where["shapes"]), dim)
        else:  # a 4-byte offset in the header or tables replaced by one pointing past the end
            at = rng.choice(where["header"] + where["codes"] + where["buffers"])
            struct.pack_into("<I", mutated, at - at % 4, rng.choice([len(data), 0x7FFFFFF0, 0xFFFFFFFF]))
        yield kind, bytes(mutated)


def open_engines(manifest, loaded, file, engine: str) -> list:
    """The engines the load path opens on `file` with `loaded`'s bytes, at the file's precision: for auto,
    every candidate that reads the file's format (what auto.choose opens before it measures)."""
    from vaedge.runtime import auto
    from vaedge.runtime.backends import open_bundle_file, open_role
    from vaedge.runtime.options import EngineOptions

    options = EngineOptions(backend=engine, precision=file.precision)
    if engine != "auto":
        return [open_bundle_file(manifest, file, loaded, options)]
    rows = [row for row in auto.candidates(manifest, options) if file.format in row.formats]
    return [open_role(manifest, file.role, options.for_backend(row), loaded) for row in rows]


def fuzz_files(bundle: Path, files, mutate, engine: str, run, per_engine: int) -> dict[str, int]:
    """Each of `files` mutated `per_engine // len(files)` times (`mutate(data, count, seed)` -> (kind, bytes)),
    the mutated bytes standing in for the hash-checked ones; every engine `open_engines` opens on `engine`
    is `run(opened, file)`. {outcome: count}: a VaedgeError in one line is "refused", a clean
    open and run "ran"; anything else fails the test."""
    from vaedge.runtime.manifest import read_all, read_manifest

    manifest = read_manifest(bundle)
    original = read_all(manifest)
    outcomes = {"refused": 0, "ran": 0}
    for index, path in enumerate(files):
        file = next(f for f in manifest.files if f.path == path)
        for kind, data in mutate(original[path], per_engine // len(files), seed=index):
            try:
                for opened in open_engines(manifest, {**original, path: data}, file, engine):
                    run(opened, file)  # it still loads: it must still run
            except VaedgeError as exc:
                assert str(exc).count("\n") == 0 and "Traceback" not in str(exc), (kind, str(exc))
                outcomes["refused"] += 1
                continue
            except Exception as exc:  # noqa: BLE001 - what this test exists to catch
                pytest.fail(f"{path} {kind}: {type(exc).__name__}: {exc}")
            outcomes["ran"] += 1
    return outcomes


def _run_allowing_refusal(opened, file) -> None:
    """A graph that opened runs once; a typed refusal of the run still counts as having run."""
    feeds = {n: np.zeros([1, *shape[1:]], np.float32) for n, (shape, _) in opened.signature().items()}
    try:
        opened.run({n: v for n, v in feeds.items() if n in opened.input_names})
    except VaedgeError:
        pass


def fuzz(bundle: Path, engine: str, per_engine: int) -> dict[str, int]:
    """Open every mutation on `engine`; {outcome: count}."""
    pytest.importorskip("ai_edge_litert")
    if engine == "tflm":
        pytest.importorskip("tflite_micro")
    return fuzz_files(bundle, FILES, mutations, engine, _run_allowing_refusal, per_engine)


@pytest.mark.reliability
@pytest.mark.parametrize("engine", ENGINES)
def test_mutated_tflite_graphs_are_refused_or_run(micro_bundle, engine, reliability):
    outcomes = fuzz(micro_bundle, engine, DEFAULT_PER_ENGINE)
    assert sum(outcomes.values()) == DEFAULT_PER_ENGINE and outcomes["refused"] > DEFAULT_PER_ENGINE // 2, outcomes
    record_outcomes(reliability, f"mutated tflite graph, re-sealed ({engine})", outcomes)


@pytest.mark.reliability_full
@pytest.mark.parametrize("engine", ENGINES)
def test_many_mutated_tflite_graphs(micro_bundle, engine, reliability):
    outcomes = fuzz(micro_bundle, engine, FULL_PER_ENGINE)
    assert sum(outcomes.values()) == FULL_PER_ENGINE, outcomes
    record_outcomes(reliability, f"mutated tflite graph, re-sealed ({engine})", outcomes)


def record_outcomes(reliability, fault: str, outcomes: dict[str, int]) -> None:
    said = {"refused": "typed refusal in one line", "ran": "still loads and runs"}
    for outcome, count in outcomes.items():
        for _ in range(count):
            reliability(fault, said[outcome])


def reseal(root: Path, path: str, data: bytes) -> None:
    """Write `data` as the bundle's `path` and re-seal the manifest so its hash and size match."""
    from vaedge.runtime.manifest import manifest_digest

    (root / path).write_bytes(data)
    manifest = json.loads((root / "vaedge.json").read_text())
    entry = next(f for f in manifest["files"] if f["path"] == path)
    entry["sha256"], entry["size"] = hashlib.sha256(data).hexdigest(), len(data)
    if isinstance(manifest.get("micro"), dict):
        for graph in manifest["micro"]["graphs"].values():
            if graph["file"] == path:
                graph["flash_bytes"] = len(data)
    manifest["manifest_sha256"] = manifest_digest(manifest)
    (root / "vaedge.json").write_text(json.dumps(manifest))


def vaedge(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "vaedge", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def assert_one_line(result: subprocess.CompletedProcess, what: str) -> None:
    said = result.stdout + result.stderr
    assert result.returncode == 1, f"{what}: exit {result.returncode} (a negative code is a signal): {said}"
    assert "Traceback" not in said and said.startswith("error: ") and said.count("\n") == 1, f"{what}: {said}"


@pytest.mark.reliability
@pytest.mark.parametrize("kind", ["truncate", "header", "huge_shape"])
def test_cli_refuses_a_resealed_mutated_graph_on_every_engine(micro_bundle, tmp_path, kind, reliability):
    """Through the real CLI, re-sealed on disk: one line, exit 1, no traceback, no signal, no image."""
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("tflite_micro")
    root = tmp_path / "b"
    shutil.copytree(micro_bundle, root)
    path = "decoder.int8io.b1.tflite"
    data = next(d for k, d in mutations((root / path).read_bytes(), 60, seed=7) if k == kind and _refused(d))
    reseal(root, path, data)
    for engine in ENGINES:
        out = tmp_path / f"{engine}.png"
        result = vaedge("generate", root, "--n", 1, "--out", out, "--backend", engine, "--precision", "int8")
        assert_one_line(result, f"{kind} on {engine}")
        assert not out.exists()
    result = vaedge("micro", root, "--out", tmp_path / "sources")
    assert_one_line(result, f"{kind} on micro")
    assert not (tmp_path / "sources").exists()
    reliability("mutated tflite graph through the CLI (generate on tflite/tflm/auto, micro)", "one line, exit 1")


def _refused(data: bytes) -> bool:
    from vaedge.runtime.flatbuffer_check import check_tflite

    try:
        check_tflite(data)
    except VaedgeError:
        return True
    return False
