"""Mutated ONNX graphs (truncated, flipped bytes, huge or negative dims, unknown ops, weights whose dims
do not match their bytes, dangling inputs) on every engine that reads them (onnx, openvino, auto): a
typed refusal or a graph that still runs, never an untyped exception, a traceback or a signal.

Most mutations go through the library's open path with the mutated bytes standing in for the
hash-checked ones; a few are re-sealed on disk and run through the real `vaedge` CLI.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.runtime.test_hostile_flatbuffers import fuzz_files, record_outcomes

ENGINES = ("onnx", "openvino", "auto")
FILES = ("encoder.onnx", "decoder.onnx")
DEFAULT_PER_ENGINE = 200
FULL_PER_ENGINE = 1000
KINDS = ("truncate", "flip", "header", "huge_dim", "initializer_dims", "unknown_op", "dangling")


def _structured(data: bytes, kind: str, rng: random.Random) -> bytes:
    import onnx

    model = onnx.load_from_string(data)
    graph = model.graph
    if kind == "huge_dim":
        tensor = rng.choice([*graph.input, *graph.output])
        dim = rng.choice(tensor.type.tensor_type.shape.dim)
        dim.dim_value = rng.choice([2**62, 2**31 - 1, -5])
    elif kind == "initializer_dims":
        weight = rng.choice([t for t in graph.initializer if len(t.dims)])
        weight.dims[rng.randrange(len(weight.dims))] = rng.choice([2**40, 0, 7])
    elif kind == "unknown_op":
        rng.choice(graph.node).op_type = rng.choice(["NoSuchOp", "Loop", ""])
    else:  # dangling: a node input that nothing produces
        node = rng.choice([n for n in graph.node if n.input])
        node.input[rng.randrange(len(node.input))] = "nowhere"
    return model.SerializeToString()


def mutations(data: bytes, count: int, seed: int):
    """`count` (kind, bytes) mutations of one ONNX graph, drawn with `seed`."""
    rng = random.Random(seed)
    for i in range(count):
        kind, mutated = KINDS[i % len(KINDS)], bytearray(data)
        if kind == "truncate":
            mutated = mutated[: rng.randrange(0, len(data))]
        elif kind in ("flip", "header"):
            span = 64 if kind == "header" else len(data)
            for at in rng.sample(range(span), rng.randint(1, 4)):
                mutated[at] ^= 1 << rng.randrange(8)
        else:
            mutated = bytearray(_structured(data, kind, rng))
        yield kind, bytes(mutated)


def _run(opened, file) -> None:
    """A graph that opened runs once; a typed refusal of the run counts as a refusal."""
    opened.run({t["name"]: np.zeros([1, *t["shape"][1:]], np.float32) for t in file.inputs})


def fuzz(bundle, engine: str, per_engine: int) -> dict[str, int]:
    """Open and run every mutation on `engine`; {outcome: count}."""
    pytest.importorskip("onnx")
    if engine == "openvino":
        pytest.importorskip("openvino")
    return fuzz_files(bundle, FILES, mutations, engine, _run, per_engine)


@pytest.mark.reliability
@pytest.mark.parametrize("engine", ENGINES)
def test_mutated_onnx_graphs_are_refused_or_run(micro_bundle, engine, reliability):
    outcomes = fuzz(micro_bundle, engine, DEFAULT_PER_ENGINE)
    assert sum(outcomes.values()) == DEFAULT_PER_ENGINE and outcomes["refused"] > DEFAULT_PER_ENGINE // 2, outcomes
    record_outcomes(reliability, f"mutated onnx graph, re-sealed ({engine})", outcomes)


@pytest.mark.reliability_full
@pytest.mark.parametrize("engine", ENGINES)
def test_many_mutated_onnx_graphs(micro_bundle, engine, reliability):
    outcomes = fuzz(micro_bundle, engine, FULL_PER_ENGINE)
    assert sum(outcomes.values()) == FULL_PER_ENGINE, outcomes
    record_outcomes(reliability, f"mutated onnx graph, re-sealed ({engine})", outcomes)
