"""The int8 TFLite decoder's form, chosen by measuring it through LiteRT (export/integer_decoder.py), on
course decoders that were never trained: their BatchNorm statistics are computed honestly from latents,
and one of them gets an outlier channel, a folded BatchNorm scale 1000x the others."""

from __future__ import annotations

import keras
import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("ai_edge_litert")

OUTLIER = 1000.0
SHAPE, LATENT = (28, 28, 1), 2


def latents(n: int = 1024, seed: int = 0) -> np.ndarray:
    """Interleaved prior samples and wider 'posterior' samples (N, D), as export's calibration data is."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, LATENT)).astype(np.float32)
    z[1::2] *= 1.8
    return z


def course_decoder(outlier: float | None):
    """The course decoder with random weights and each BatchNorm's moving statistics set to its inputs' real
    mean and variance on `latents()`; with `outlier`, channel 0 of decode_bn2 gets its gamma times `outlier`
    and decode_conv2d_3 that channel's weights divided by it, so only the folded scale stands out."""
    from vaedge.train.model import build_decoder

    keras.utils.set_random_seed(0)
    decoder = build_decoder(SHAPE, LATENT)
    z = latents()
    for bn in [layer for layer in decoder.layers if isinstance(layer, keras.layers.BatchNormalization)]:
        inputs = np.asarray(keras.Model(decoder.input, bn.input)(z, training=False))
        axes = tuple(range(inputs.ndim - 1))
        bn.moving_mean.assign(inputs.mean(axis=axes))
        bn.moving_variance.assign(inputs.var(axis=axes))
    if outlier is not None:
        bn, after = decoder.get_layer("decode_bn2"), decoder.get_layer("decode_conv2d_3")
        gamma = np.asarray(bn.gamma)
        gamma[0] *= outlier
        bn.gamma.assign(gamma)
        kernel = np.asarray(after.kernel)  # (h, w, out, in)
        kernel[..., 0] /= outlier
        after.kernel.assign(kernel)
    return decoder


def source_of(decoder):
    from vaedge.export.sources import KerasSource
    from vaedge.train.model import build_encoder

    return KerasSource(build_encoder(SHAPE, LATENT), decoder, "test decoder")


def choose(decoder):
    from vaedge.export import integer_decoder
    from vaedge.export.tflite_graphs import CALIBRATION_ROWS, calibration_batches

    return integer_decoder.choose(source_of(decoder), latents(), CALIBRATION_ROWS, calibration_batches)


def test_a_healthy_decoder_keeps_full_int8():
    from vaedge.export.integer_decoder import TARGET_DB

    form, model = choose(course_decoder(None))
    assert (form.subpixel, form.activations) == (True, "int8"), form.as_dict()
    assert form.worst_db >= TARGET_DB and not form.blame, form.tried


def test_an_outlier_channel_is_equalized_and_passes_the_gate_where_the_plain_form_fails():
    from vaedge.export import integer_decoder
    from vaedge.runtime.parity import PSNR_GATE

    decoder = course_decoder(OUTLIER)
    form, model = choose(decoder)
    plain = form.tried[0]
    assert plain["form"] == "int8 activations, sub-pixel" and min(plain["psnr_db"].values()) < PSNR_GATE, form.tried
    assert form.equalization > 0 and form.activations == "int8", form.as_dict()
    assert form.worst_db >= PSNR_GATE, form.tried
    # the graph chosen is full-integer int8 inside: no float op between its QUANTIZE and DEQUANTIZE
    ops = integer_decoder._decode(model, latents(64), 64)[1]._get_ops_details()
    assert {op["op_name"] for op in ops[1:-1]} <= {
        "FULLY_CONNECTED",
        "ADD",
        "RESHAPE",
        "PAD",
        "CONV_2D",
        "DEPTH_TO_SPACE",
        "LOGISTIC",
    }, ops


def test_the_gate_blames_the_op_that_loses_the_signal():
    """The one-line reason a variant is not written names an op and its SNR drop."""
    from vaedge.export import integer_decoder
    from vaedge.export.tflite_graphs import CALIBRATION_ROWS, calibration_batches

    source = source_of(course_decoder(OUTLIER))
    z = latents()
    plain = integer_decoder.IntegerForm()
    function = integer_decoder.function(source, plain, 64, z[:CALIBRATION_ROWS])
    from vaedge.export import convert

    model = convert.to_tflite(function, calibration=calibration_batches(z, 64))
    line = integer_decoder.blame(function, model, z[CALIBRATION_ROWS : CALIBRATION_ROWS + 64])
    op, rest = line.split(" ", 1)
    assert op in {"CONV_2D", "ADD", "FULLY_CONNECTED", "DEPTH_TO_SPACE", "LOGISTIC"}, line
    before, after = (float(v) for v in rest.split("SNR ")[1].removesuffix(" dB").split(" -> "))
    assert before - after > 10, line
