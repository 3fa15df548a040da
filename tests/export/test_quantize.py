"""int8 quantization with onnxruntime's own tools: the fallback that keeps fully-connected layers float
when one folded unit's range would swamp the others."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vaedge.export import quantize
from vaedge.runtime.parity import PSNR_GATE


def dense_head(dead_unit: bool) -> onnx.ModelProto:
    """x (N, 8) -> Dense(16) -> ReLU -> Dense(2): the shape of the encoder's tail. With `dead_unit`, unit 0
    is what folding BatchNorm's scale back through a nearly dead ReLU makes: weights x30, bias -1382."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((8, 16)).astype(np.float32) * 0.5
    b1 = rng.standard_normal(16).astype(np.float32) * 0.1
    if dead_unit:
        w1[:, 0] *= 30
        b1[0] = -1382.0
    w2 = rng.standard_normal((16, 2)).astype(np.float32) * 0.2
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="dense/MatMul"),
        helper.make_node("Add", ["h", "b1"], ["hb"], name="dense/BiasAdd"),
        helper.make_node("Relu", ["hb"], ["a"], name="dense/Relu"),
        helper.make_node("MatMul", ["a", "w2"], ["z_mean"], name="z_mean/MatMul"),
    ]
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("z_mean", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def calibration() -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(1).standard_normal((512, 8)).astype(np.float32)}


def test_fully_connected_chains_are_found():
    assert quantize.fully_connected_nodes(dense_head(True)) == [
        "dense/MatMul",
        "dense/BiasAdd",
        "dense/Relu",
        "z_mean/MatMul",
    ]


def test_a_swamped_dense_layer_stays_float_and_the_int8_graph_passes_the_gate():
    model, feeds = dense_head(True), calibration()
    plain = quantize._quantize_static(model, feeds, [])
    assert quantize.worst_psnr(model, plain, feeds) < PSNR_GATE  # what plain quantization gives: refused
    chosen = quantize.to_int8(model, feeds)
    assert quantize.worst_psnr(model, chosen, feeds) >= PSNR_GATE
    assert not any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in chosen.graph.node)


def test_a_healthy_graph_is_quantized_whole():
    model, feeds = dense_head(False), calibration()
    chosen = quantize.to_int8(model, feeds)
    assert quantize.worst_psnr(model, chosen, feeds) >= PSNR_GATE
    assert sum(n.op_type == "QuantizeLinear" for n in chosen.graph.node) >= 3  # every activation int8
