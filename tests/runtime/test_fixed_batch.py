"""Host-side pieces of the fixed-batch path: cutting and padding rows, and int8 I/O quantization."""

from __future__ import annotations

import numpy as np

from vaedge.runtime.fixed_batch import dequantize, plan, quantize, run_pieces


def test_run_pieces_pads_only_the_last_piece_and_drops_the_padding():
    seen = []

    def graph(batch, feeds):  # a graph of fixed batch: refuses any other row count
        assert len(feeds["z"]) == batch
        seen.append(batch)
        return {"image": feeds["z"] * 2, "count": np.full((batch, 1), batch)}

    z = np.arange(300 * 2, dtype=np.float32).reshape(300, 2)
    out = run_pieces(graph, {"z": z}, plan(300, [1, 64]))
    assert seen == [64] * 5 and np.array_equal(out["image"], z * 2) and out["image"].dtype == np.float32
    assert out["count"].shape == (300, 1)
    one = run_pieces(graph, {"z": z[:64]}, plan(64, [1, 64]))  # one full piece: passed through
    assert np.array_equal(one["image"], z[:64] * 2)


def test_quantize_and_dequantize_follow_the_float32_formula():
    scale, zero_point = 0.022637607529759407, 4
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32) * 4
    x = np.concatenate([x, np.float32([1e9, -1e9, 0])])
    expected = np.clip(np.round(x / np.float32(scale)) + zero_point, -128, 127).astype(np.int8)
    assert np.array_equal(quantize(x, scale, zero_point), expected)
    q = np.arange(-128, 128, dtype=np.int8)
    assert np.array_equal(dequantize(q, 0.00390625, -128), (q.astype(np.float32) + 128) * np.float32(0.00390625))
    assert dequantize(q, 0.00390625, -128).dtype == np.float32
