"""Running fixed-batch graphs on any number of rows, and int8-I/O graphs on float32 arrays.

A bundle's TFLite graphs each have one fixed batch (e.g. 1 and 64). Tensors are never resized at
run time: rows are cut into pieces of a graph's batch, the last piece padded with zero rows, and
the padding dropped from the outputs. `plan` picks, per piece, the graph that computes the rows
most cheaply; int8-I/O graphs get their inputs quantized and their outputs dequantized on the host
with the scale and zero point the manifest records (and the graph itself carries).
"""

from __future__ import annotations

import collections
import math

import numpy as np

# A graph call costs about its batch plus this many images' worth of fixed overhead (interpreter
# entry, XNNPACK setup per call); docs/benchmarks.md has the measurement behind it. 1 keeps Python's
# share in.
CALL_OVERHEAD_IMAGES = 1.0


def plan(n: int, batches) -> list[tuple[int, int]]:
    """[(graph batch, rows it computes)] covering n rows: full pieces of the largest batch, then the
    remainder r on the batch b with the least ceil(r / b) * (b + overhead) (ties: the larger b),
    padded when r < b. With batches (1, 64): n=1 -> one b1 call, n=7 -> seven b1 calls, n=64 -> one
    b64 call, n=300 -> four b64 calls and one b64 call padded from 44 rows."""
    batches = sorted(set(batches))
    largest, pieces = batches[-1], []
    full, remainder = divmod(n, largest)
    pieces += [(largest, largest)] * full
    if remainder:
        cost = lambda b: (math.ceil(remainder / b) * (b + CALL_OVERHEAD_IMAGES), -b)  # noqa: E731
        batch = min(batches, key=cost)
        calls, left = math.ceil(remainder / batch), remainder
        for _ in range(calls):
            pieces.append((batch, min(batch, left)))
            left -= batch
    return pieces


def run_pieces(run, feeds: dict[str, np.ndarray], pieces) -> dict[str, np.ndarray]:
    """Outputs of `run` (a graph taking exactly `batch` rows) over `feeds`, piece by piece; the last
    rows of a short piece are zero padding, dropped from its outputs. Each piece's outputs are
    written into arrays allocated once (no lists to concatenate); one full piece is passed through."""
    if len(pieces) == 1 and pieces[0][0] == pieces[0][1]:
        return run(pieces[0][0], feeds)
    n = sum(rows for _, rows in pieces)
    outputs: dict[str, np.ndarray] = {}
    start = 0
    for batch, rows in pieces:
        piece = {}
        for name, array in feeds.items():
            part = array[start : start + rows]
            if rows < batch:
                padded = np.zeros((batch, *part.shape[1:]), part.dtype)
                padded[:rows] = part
                part = padded
            piece[name] = part
        for name, value in run(batch, piece).items():
            if name not in outputs:
                outputs[name] = np.empty((n, *value.shape[1:]), value.dtype)
            outputs[name][start : start + rows] = value[:rows]
        start += rows
    return outputs


class FixedBatchGraphs:
    """One role's graphs of one precision, one per fixed batch, run as one engine that takes any n."""

    batch = None

    def __init__(self, models: dict[int, object]):
        self.models = dict(sorted(models.items()))
        first = next(iter(self.models.values()))
        self.input_names, self.output_names, self.settings = first.input_names, first.output_names, first.settings
        self.name = ", ".join(m.name for m in self.models.values())
        self.calls: collections.Counter = collections.Counter()  # graph batch -> calls so far
        self._first = first

    @property
    def providers(self) -> list[str]:
        return self._first.providers

    def signature(self) -> dict[str, tuple[list, str]]:
        """The first graph's, with the batch dimension dynamic: this engine takes any n."""
        return {k: ([None, *shape[1:]], dtype) for k, (shape, dtype) in self._first.signature().items()}

    def quantization(self) -> dict[str, dict]:
        return {}  # every graph's int8 I/O is quantized on the host (HostQuantized)

    @property
    def batches(self) -> list[int]:
        return list(self.models)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(next(iter(feeds.values())))
        return run_pieces(self._run_one, feeds, plan(n, self.models))

    def _run_one(self, batch: int, piece: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.calls[batch] += 1
        return self.models[batch].run(piece)


def quantize(array: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float32 -> int8 as TFLite's QUANTIZE: round(x / scale) + zero_point, saturated. In float32 and
    in place on one temporary: a batch-1 call is mostly numpy's per-operation overhead."""
    q = np.divide(array, np.float32(scale), dtype=np.float32)
    np.round(q, out=q)
    q += np.float32(zero_point)
    np.minimum(q, 127, out=q)
    np.maximum(q, -128, out=q)
    return q.astype(np.int8)


def dequantize(array: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 -> float32: (q - zero_point) * scale, in float32, in place on the one new array."""
    out = array.astype(np.float32)
    out -= np.float32(zero_point)
    out *= np.float32(scale)
    return out


class HostQuantized:
    """An int8-I/O graph that takes and returns float32: quantization of its int8 tensors on the host."""

    def __init__(self, model, quantization: dict[str, dict]):
        self.model, self.host_quantization = model, quantization
        self.input_names, self.output_names, self.name = model.input_names, model.output_names, model.name
        self.batch, self.settings = model.batch, model.settings

    @property
    def providers(self) -> list[str]:
        return self.model.providers

    def signature(self) -> dict[str, tuple[list, str]]:
        """The graph's, with float32 in place of the int8 tensors quantized here."""
        return {
            k: (shape, "float32" if k in self.host_quantization else dtype)
            for k, (shape, dtype) in self.model.signature().items()
        }

    def quantization(self) -> dict[str, dict]:
        return {}  # takes and returns float32

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        q = self.host_quantization
        inputs = {k: quantize(v, **q[k]) if k in q else v for k, v in feeds.items()}
        return {k: dequantize(v, **q[k]) if k in q else v for k, v in self.model.run(inputs).items()}
