"""The decoder rebuilt for TensorFlow Lite Micro's memory: what `vaedge export --micro` converts at batch 1.

The plain int8 decoder needs more arena and flash than a small board has (docs/micro.md, section 2):
- TFLM's int8 TRANSPOSE_CONV keeps an int32 scratch of its whole output. The sub-pixel form computes
  the same sums with no scratch (export/decoder_graph.py);
- BatchNorm after ReLU folded forward becomes full bias maps; here its scale goes into the producer's
  kernel and its shift stays a per-channel ADD;
- the Dense quantized per channel carries a scale, zero point, multiplier and shift per unit; per tensor
  it needs one (`to_tflite(per_channel_dense=False)`).

What is kept (each route measured in docs/micro.md): the last upsampling layer, whose output is the
largest and whose weights are the smallest, in sub-pixel form; every other transposed conv split by
output channels into TRANSPOSE_CONVs whose scratch fits SCRATCH_BUDGET (the sub-pixel kernel holds
zero taps, too much flash for the 64-channel layer); the Dense's bias as one more int8 weight row on a
constant 1; the Dense quantized per tensor; the channels equalized as the bundle's int8 decoders are.
"""

from __future__ import annotations

import numpy as np

from vaedge.errors import ExportError
from vaedge.export.decoder_graph import decoder_function, last_upsampling

SCRATCH_BUDGET = 16 * 1024  # bytes of int32 scratch per TRANSPOSE_CONV
FLOAT_GATE = 1e-5  # max abs difference to Keras in float, before quantization
BIAS_ROWS = 256  # latents the logit bias is measured on, one batch-1 decode each


def write_micro_decoder(stage, source, entries: list, latents: np.ndarray, equalization: float = 0.0) -> list:
    """Rebuild the bundle's int8-I/O batch-1 decoder in `stage` in the micro form above, calibrated on
    `latents` (N, D) (their first CALIBRATION_ROWS also equalize the channels at strength `equalization`);
    return `entries` with its manifest fields replaced. ExportError if the float graph differs from Keras
    by more than FLOAT_GATE."""
    from vaedge.export import convert
    from vaedge.export.integer_decoder import corrected, posterior_rows
    from vaedge.export.tflite_graphs import CALIBRATION_ROWS, _written, calibration_batches, tflite_name

    name = tflite_name("decoder", 1, "int8io")

    def build(shift):
        return decoder_function(
            source,
            1,
            subpixel=last_upsampling(source.decoder),
            scratch=SCRATCH_BUDGET,
            dense_bias_row=True,
            equalized=(latents[:CALIBRATION_ROWS], equalization) if equalization else None,
            logit_shift=shift,
        )

    function = build(None)
    probe = latents[:16].astype(np.float32)
    ours = np.concatenate([np.asarray(function(probe[i : i + 1])["image"]) for i in range(len(probe))])
    difference = float(np.max(np.abs(ours - np.asarray(source.decoder(probe, training=False)))))
    if not difference <= FLOAT_GATE:
        raise ExportError(
            f"{name}: the micro decoder differs from Keras by {difference:.3g} in float (gate {FLOAT_GATE:g})"
        )

    def convert_int8(function_):
        return convert.to_tflite(
            function_, calibration=calibration_batches(latents, 1), int8_io=True, per_channel_dense=False
        )

    model, _ = corrected(build, convert_int8, posterior_rows(latents)[:BIAS_ROWS], 1)
    entry = _written(stage, name, model, "decoder", "int8", source, 1)
    if not any(n == name for n, _ in entries):
        return [*entries, (name, entry)]
    return [(n, entry if n == name else f) for n, f in entries]
