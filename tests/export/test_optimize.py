"""Graph rewrites are exact: BatchNorm fold (including negative scales), sub-pixel ConvTranspose, a one-channel
conv as depthwise Conv + ReduceSum, FLOPs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from vaedge.export.depthwise import one_channel_depthwise
from vaedge.export.flops import flops_per_image
from vaedge.export.fold import fold_batchnorm
from vaedge.export.subpixel import subpixel_conv_transpose


def run(model, feeds):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(
        None, feeds
    )[0]


def graph(nodes, inputs, output, inits, opset=17):
    model = helper.make_model(
        helper.make_graph(nodes, "g", inputs, [output], inits), opset_imports=[helper.make_opsetid("", opset)]
    )
    model.ir_version = 8
    return model


@pytest.mark.parametrize(
    "kernel, stride, pads",
    [
        (3, 2, [0, 0, 1, 1]),
        (4, 2, [1, 1, 1, 1]),
        (5, 2, [1, 1, 2, 2]),
        (3, 1, [1, 1, 1, 1]),
        (3, 3, [0, 0, 0, 0]),
        (2, 2, [0, 0, 0, 0]),
    ],
)
def test_subpixel_equals_conv_transpose(kernel, stride, pads):
    rng = np.random.default_rng(kernel * 10 + stride)
    weight = rng.standard_normal((6, 5, kernel, kernel)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    x = rng.standard_normal((3, 6, 7, 7)).astype(np.float32)
    node = helper.make_node(
        "ConvTranspose", ["x", "w", "b"], ["y"], strides=[stride, stride], kernel_shape=[kernel, kernel], pads=pads
    )
    model = graph(
        [node],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 7, 7])],
        helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, "H", "W"]),
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    rewritten = subpixel_conv_transpose(model)
    expected, actual = run(model, {"x": x}), run(rewritten, {"x": x})
    assert actual.shape == expected.shape and np.abs(actual - expected).max() < 1e-4
    ops = [n.op_type for n in rewritten.graph.node]
    if expected.shape[2] == stride * 7:  # the sub-pixel form applies
        assert "ConvTranspose" not in ops and ("DepthToSpace" in ops) == (stride > 1)
    else:  # an output crop the form cannot express: left alone, still correct
        assert ops == ["ConvTranspose"]


def test_subpixel_leaves_a_dilated_conv_transpose_alone():
    """Dilation spreads the taps; the sub-pixel form assumes none. Output 2H, so only the guard stops it."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((6, 5, 3, 3)).astype(np.float32)
    x = rng.standard_normal((2, 6, 7, 7)).astype(np.float32)
    node = helper.make_node(
        "ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], kernel_shape=[3, 3], dilations=[2, 2], pads=[1, 1, 2, 2]
    )
    model = graph(
        [node],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6, 7, 7])],
        helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5, "H", "W"]),
        [numpy_helper.from_array(weight, "w")],
    )
    rewritten = subpixel_conv_transpose(model)
    expected = run(model, {"x": x})
    assert expected.shape[2:] == (14, 14)
    assert [n.op_type for n in rewritten.graph.node] == ["ConvTranspose"]
    assert np.abs(run(rewritten, {"x": x}) - expected).max() < 1e-5


@pytest.mark.parametrize(
    "op, c_out, kernel, stride, pads, bias, rewritten_ops",
    [
        ("ConvTranspose", 1, (3, 3), 1, [1, 1, 1, 1], True, ["Conv", "ReduceSum", "Add"]),  # the course's last layer
        ("ConvTranspose", 1, (5, 3), 1, [2, 1, 2, 1], False, ["Conv", "ReduceSum"]),
        ("ConvTranspose", 1, (3, 3), 1, [0, 0, 0, 0], False, ["Conv", "ReduceSum"]),  # grows the image by 2
        ("ConvTranspose", 1, (3, 3), 1, [0, 1, 2, 1], True, ["Conv", "ReduceSum", "Add"]),  # uneven crop
        ("Conv", 1, (3, 3), 1, [1, 1, 1, 1], True, ["Conv", "ReduceSum", "Add"]),
        ("ConvTranspose", 1, (3, 3), 2, [0, 0, 1, 1], True, ["ConvTranspose"]),  # strided: left alone
        ("ConvTranspose", 3, (3, 3), 1, [1, 1, 1, 1], True, ["ConvTranspose"]),  # three channels: left alone
        ("Conv", 2, (3, 3), 1, [1, 1, 1, 1], False, ["Conv"]),
    ],
)
def test_one_channel_depthwise_equals_the_conv(op, c_out, kernel, stride, pads, bias, rewritten_ops):
    rng = np.random.default_rng(len(rewritten_ops) + c_out + stride)
    c_in = 6
    shape = (c_in, c_out, *kernel) if op == "ConvTranspose" else (c_out, c_in, *kernel)
    inits = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), "w")]
    if bias:
        inits.append(numpy_helper.from_array(rng.standard_normal(c_out).astype(np.float32), "b"))
    node = helper.make_node(
        op, ["x", "w", "b"][: 2 + bias], ["y"], strides=[stride, stride], kernel_shape=list(kernel), pads=pads
    )
    model = graph(
        [node],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c_in, 7, 7])],
        helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", c_out, "H", "W"]),
        inits,
    )
    rewritten = one_channel_depthwise(model)
    x = rng.standard_normal((3, c_in, 7, 7)).astype(np.float32)
    expected, actual = run(model, {"x": x}), run(rewritten, {"x": x})
    assert actual.shape == expected.shape and np.abs(actual - expected).max() < 1e-5
    assert [n.op_type for n in rewritten.graph.node] == rewritten_ops
    if expected.shape[2:] == x.shape[2:]:  # 'same': the same multiply-accumulates (else border taps of zeros)
        assert flops_per_image(rewritten) == flops_per_image(model)


def test_fold_keeps_the_mul_where_a_batchnorm_scale_is_negative():
    rng = np.random.default_rng(0)
    scale = np.array([1.5, -0.5, 2.0], np.float32).reshape(3, 1, 1)
    inits = [
        numpy_helper.from_array(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(scale, "a"),
        numpy_helper.from_array(rng.standard_normal((3, 1, 1)).astype(np.float32), "b"),
        numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Mul", ["r", "a"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["s"]),
        helper.make_node("Conv", ["s", "w2"], ["y"], pads=[1, 1, 1, 1]),
    ]
    model = graph(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 6, 6])],
        helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 6, 6]),
        inits,
    )
    folded = fold_batchnorm(model)
    x = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    assert np.abs(run(folded, {"x": x}) - run(model, {"x": x})).max() < 1e-5
    assert "Mul" in [n.op_type for n in folded.graph.node]  # relu(x) * a != relu(x * a) for a < 0


def test_exported_graphs_count_the_course_flops(bundle):
    from vaedge.runtime.manifest import read_manifest

    flops = read_manifest(bundle).raw["flops_per_image"]
    decoder_macs = 2 * 3136 + 64 * 64 * 9 * 7 * 7 + 64 * 32 * 9 * 14 * 14 + 32 * 1 * 9 * 28 * 28
    encoder_macs = 1 * 32 * 9 * 14 * 14 + 32 * 64 * 9 * 7 * 7 + 3136 * 20 + 2 * 20 * 2
    assert flops == {"encoder": 2 * encoder_macs, "decoder": 2 * decoder_macs}
    assert flops_per_image(onnx.load(bundle / "decoder.onnx")) == 2 * decoder_macs  # the fold changes no MACs


def test_int8_decoder_uses_subpixel_convs(bundle):
    ops = {n.op_type for n in onnx.load(bundle / "decoder.int8.onnx").graph.node}
    assert "ConvTranspose" not in ops and {"Conv", "DepthToSpace", "QuantizeLinear"} <= ops
