"""The Keras side of `vaedge bench`: Keras predict, Keras direct call, plain tf2onnx and TF's default
dynamic-batch TFLite conversion, from a run."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import keras
import numpy as np

from vaedge.bench.timing import Row
from vaedge.export import convert
from vaedge.export.sources import from_run
from vaedge.runtime.backends import open_model
from vaedge.runtime.options import EngineOptions

# The Keras way to the same PNG as `vaedge generate --n 64`: what a course student would run.
KERAS_COLD_START = """
import sys
import keras, numpy as np
from vaedge.io.images import save_grid
decoder = keras.saving.load_model(sys.argv[1] + "/decoder.keras")
z = np.random.default_rng(0).standard_normal((64, decoder.inputs[0].shape[-1])).astype("float32")
save_grid(sys.argv[2], decoder.predict(z, verbose=0))
"""


@contextlib.contextmanager
def keras_decoders(run: Path, threads: int | None = None):
    """(Row, open() -> decode(z), file) for Keras predict, Keras direct call and plain tf2onnx; the plain
    tf2onnx graph lives in a temporary directory removed when the block ends."""
    file = Path(run) / "decoder.keras"

    def predict():
        decoder = keras.saving.load_model(file, compile=False)
        return lambda z: decoder.predict(z, verbose=0, batch_size=len(z))

    def direct_call():
        decoder = keras.saving.load_model(file, compile=False)
        return lambda z: np.asarray(decoder(z, training=False))

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "decoder.tf2onnx.onnx"
        raw.write_bytes(convert.to_onnx(convert.decoder_function(from_run(run))).SerializeToString())

        def plain_tf2onnx():
            model = open_model(raw.read_bytes(), "onnx", raw.name)
            return lambda z: model.run({"z": z})

        # TF's converter as it comes, batch left dynamic: what bundles held before fixed batches.
        dynamic = Path(tmp) / "decoder.dynamic.tflite"
        dynamic.write_bytes(convert.to_tflite(convert.decoder_function(from_run(run))))

        def dynamic_tflite():
            model = open_model(dynamic.read_bytes(), "tflite", dynamic.name, EngineOptions(threads=threads))
            return lambda z: model.run({"z": z})["image"]

        yield [
            (Row("Keras", variant="predict"), predict, file),
            (Row("Keras", variant="direct call"), direct_call, file),
            (Row("onnxruntime", variant="plain tf2onnx"), plain_tf2onnx, raw),
            (Row("LiteRT", variant="dynamic batch, TF default"), dynamic_tflite, dynamic),
        ]
