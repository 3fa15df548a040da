"""Keras -> ONNX (tf2onnx) and Keras -> TFLite, from `tf.function`s with explicit input signatures.

Graph tensor names are the API: the encoder maps `image` to `z_mean`, `z_log_var`; the decoder
maps `z` to `image`. The ONNX graphs keep a dynamic batch; the TFLite graphs are converted with a
fixed one (`batch`), which keeps TF's converter from emitting SHAPE -> STRIDED_SLICE -> PACK in front
of every RESHAPE and TRANSPOSE_CONV. No graph holds a random op.
"""

from __future__ import annotations

import collections
import tempfile
from collections.abc import Callable, Iterable

import keras
import numpy as np
import onnx
import tensorflow as tf
import tf2onnx

from vaedge.export.config import DEFAULT_OPSET
from vaedge.export.sources import KerasSource

ENCODER_OUTPUTS = ("z_mean", "z_log_var")


def encoder_function(
    source: KerasSource, batch: int | None = None, fold: bool = False
) -> tf.types.experimental.GenericFunction:
    """tf.function: image (batch or N, H, W, C) float32 -> {z_mean, z_log_var} (N, D), BatchNorm in
    inference mode, or with `fold` folded into its neighbours (export/fold_keras.py)."""
    spec = tf.TensorSpec((batch, *source.image_shape), tf.float32, name="image")
    run = _folded(source.encoder) if fold else lambda image: source.encoder(image, training=False)

    @tf.function(input_signature=[spec])
    def encode(image):
        out = run(image)
        return {"z_mean": out["z_mean"], "z_log_var": out["z_log_var"]}

    return encode


def decoder_function(
    source: KerasSource, batch: int | None = None, fold: bool = False, depthwise: bool = False
) -> tf.types.experimental.GenericFunction:
    """tf.function: z (batch or N, D) float32 -> {image} (N, H, W, C) in [0, 1]; `fold` as for the encoder;
    `depthwise` (with `fold`): a one-channel last layer as XNNPACK runs it fastest (export/fold_keras.py)."""
    spec = tf.TensorSpec((batch, source.latent_dim), tf.float32, name="z")
    folded = _folded(source.decoder, depthwise) if fold else None  # weights folded now, eagerly, not while tracing

    @tf.function(input_signature=[spec])
    def decode(z):
        return {"image": next(iter(folded(z).values())) if fold else source.decoder(z, training=False)}

    return decode


def _folded(model, depthwise: bool = False):
    """model's inference call with BatchNorm folded: x -> {output name: tensor}."""
    from vaedge.export.fold_keras import folded

    call, _ = folded(model, depthwise)
    if isinstance(model.output, dict):  # the encoder cut at its Sampling layer: outputs flattened by key
        return lambda x: keras.tree.pack_sequence_as(model.output, call(x))
    return lambda x: dict(zip(model.output_names, call(x)))


def to_onnx(function, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """Convert with tf2onnx; outputs ordered z_mean, z_log_var for the encoder."""
    model, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=opset)
    outputs = list(model.graph.output)
    if {o.name for o in outputs} == set(ENCODER_OUTPUTS):
        ordered = sorted(outputs, key=lambda o: ENCODER_OUTPUTS.index(o.name))
        del model.graph.output[:]
        model.graph.output.extend(ordered)
    model.producer_name, model.producer_version = "vaedge (tf2onnx)", tf2onnx.__version__
    return model


def to_tflite(
    function,
    calibration: Callable[[], Iterable[np.ndarray]] | None = None,
    int8_io: bool = False,
    per_channel_dense: bool = True,
    int16_activations: bool = False,
) -> bytes:
    """Convert with TF's converter; with `calibration`, full-integer int8 weights and activations.

    Goes through a SavedModel whose `serving_default` signature is the frozen `function`, so the
    TFLite file carries the same input/output names. Inputs and outputs stay float32 (quantize/
    dequantize at the edges), so the variant has the same signature, unless `int8_io`: then they are
    int8 too (microcontrollers, Edge TPU), with the scale and zero point in the graph's tensors.
    `per_channel_dense=False` quantizes Dense weights per tensor (export/micro_decoder.py says why).
    `int16_activations` keeps int8 weights with int16 activations (TFLite's 16x8 mode; float I/O only).
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    # Keras 3 variables would stay resource reads (BN recomputed at run time, no int8 calibration).
    concrete = function.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)

    @tf.function(input_signature=function.input_signature)
    def serve(tensor):
        return tf.nest.pack_sequence_as(concrete.structured_outputs, tf.nest.flatten(frozen(tensor)))

    module = tf.Module()
    module.serve = serve
    with tempfile.TemporaryDirectory() as saved:
        tf.saved_model.save(module, saved, signatures={"serving_default": serve.get_concrete_function()})
        converter = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=["serving_default"])
        if calibration is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([batch] for batch in calibration())
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
                if int16_activations
                else tf.lite.OpsSet.TFLITE_BUILTINS_INT8
            ]
            converter._experimental_disable_per_channel_quantization_for_dense_layers = not per_channel_dense
            if int8_io:
                converter.inference_input_type = converter.inference_output_type = tf.int8
        return converter.convert()


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    """{op_type: count} of the main graph, sorted by op name."""
    return dict(sorted(collections.Counter(node.op_type for node in model.graph.node).items()))


RANDOM_OPS = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli"}


def random_ops(model: onnx.ModelProto) -> list[str]:
    """Names of nodes that draw random numbers (there must be none: sampling lives on the host)."""
    return [f"{n.op_type}:{n.name}" for n in model.graph.node if n.op_type in RANDOM_OPS]
