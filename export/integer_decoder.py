"""The form of the bundle's int8 TFLite decoders, chosen by measuring each candidate through LiteRT.

Every candidate is the decoder of export/decoder_graph.py (BN scales folded per channel, shifts as
per-channel ADDs), converted to full-integer int8 at one batch and scored against Keras on calibration
latents the converter did not see: prior samples and encoder posterior samples, each group on its own.
In order, the first that reaches `TARGET_DB` on both wins, else the best one:
1. stride-2 transposed convs in sub-pixel form (CONV_2D + DEPTH_TO_SPACE), channels as trained;
2. the same with cross-layer equalization at full, then half strength (one outlier channel, e.g. a
   folded BatchNorm scale far above the others, otherwise takes a whole tensor's int8 range);
3. below the parity gate: 16-bit activations with 8-bit weights (TFLite's 16x8 mode, which has no
   DEPTH_TO_SPACE: transposed convs as they are), float I/O, so no int8-I/O graph is made from it.
Candidates are compared as converted; the winner is then bias-corrected: the mean error int8 rounding
leaves on the logits is taken off the last layer's bias (it costs nats of likelihood where PSNR hardly
sees it), and its scores are those of the corrected graph. A form that still misses the gate names the
op that loses the most signal-to-noise and its own figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from vaedge.export import convert
from vaedge.export.decoder_graph import decoder_function
from vaedge.runtime.parity import PSNR_GATE, psnr

TARGET_DB = 35.0
STRENGTHS = (0.0, 1.0, 0.5)
SELECTION_BATCH = 64
GROUPS = ("prior samples", "posterior samples")


@dataclass
class IntegerForm:
    """How the int8 TFLite decoders are built, and what the chosen form scored (dB, per latent group)."""

    subpixel: bool = True
    equalization: float = 0.0
    activations: str = "int8"  # or "int16": 16x8 mode, float I/O only
    logit_shift: list = field(default_factory=list)  # bias correction of the logits, per output channel
    psnr_db: dict = field(default_factory=dict)
    tried: list = field(default_factory=list)  # [{form, psnr_db}] in the order tried, before bias correction
    blame: str = ""  # the op that loses the most SNR, when the chosen form misses the gate

    @property
    def worst_db(self) -> float:
        return min(self.psnr_db.values()) if self.psnr_db else float("-inf")

    def label(self) -> str:
        upsampling = "sub-pixel" if self.subpixel else "transposed conv"
        equalized = f", equalized {self.equalization:g}" if self.equalization else ""
        return f"{self.activations} activations, {upsampling}{equalized}"

    def as_dict(self) -> dict:
        return {**asdict(self), "form": self.label()}


def split_latents(latents: np.ndarray, calibration_rows: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(calibration rows, {group: held-back rows}) of interleaved prior/posterior latents (N, D)."""
    calibration, rest = latents[:calibration_rows], latents[calibration_rows:]
    if len(rest) < 2:
        rest = latents
    return calibration, {GROUPS[0]: rest[0::2], GROUPS[1]: rest[1::2]}


def posterior_rows(latents: np.ndarray) -> np.ndarray:
    """The posterior samples of interleaved prior/posterior latents (N, D): what the logit bias is measured
    on, since a likelihood (and every reconstruction) decodes posterior samples."""
    return latents[1::2]


def function(source, form: IntegerForm, batch: int, latents: np.ndarray):
    """The decoder's tf.function in `form`, equalized on `latents` (N, D) when the form says so."""
    equalized = (latents, form.equalization) if form.equalization else None
    shift = np.asarray(form.logit_shift, np.float32) if form.logit_shift else None
    return decoder_function(source, batch, subpixel=form.subpixel, equalized=equalized, logit_shift=shift)


def _convert(function_, form: IntegerForm, calibration) -> bytes:
    return convert.to_tflite(function_, calibration=calibration, int16_activations=form.activations == "int16")


def logit_bias(function_, quantized: bytes, latents: np.ndarray, batch: int) -> np.ndarray:
    """(C,) the mean of (quantized - float) logits, the input of the graph's LOGISTIC, per channel over
    `latents` (N, D). Int8 rounding through the layers adds a bias there that per-pixel noise does not:
    each pixel's log-likelihood moves by (x - p) times it, which sums over the image (Nagel et al.'s bias
    correction, measured on the logits)."""
    error = _logits(quantized, latents, batch) - _logits(convert.to_tflite(function_), latents, batch)
    return error.reshape(-1, error.shape[-1]).mean(axis=0)


def _logits(model: bytes, latents: np.ndarray, batch: int) -> np.ndarray:
    """The LOGISTIC op's input, as float, for `latents` (N, D): (N, H, W, C), one interpreter for all of them."""
    interpreter = _interpreter(model, preserve=True)
    op = next(o for o in interpreter._get_ops_details() if o["op_name"] == "LOGISTIC")
    detail = next(t for t in interpreter.get_tensor_details() if t["index"] == op["inputs"][0])
    scales, zeros = detail["quantization_parameters"]["scales"], detail["quantization_parameters"]["zero_points"]
    out = []
    for _ in _batches(interpreter, latents, batch):
        value = interpreter.get_tensor(detail["index"]).astype(np.float64)
        out.append((value - zeros[0]) * scales[0] if len(scales) else value)
    return np.concatenate(out)[: len(latents)]


def corrected(build, convert_int8, latents: np.ndarray, batch: int, first: bytes | None = None) -> tuple[bytes, list]:
    """(graph, logit shift): `build(shift)` -> tf.function, converted by `convert_int8` (or `first`, that
    conversion already made), then converted again with its logit bias on `latents` (N, D) taken off the
    last bias."""
    first = convert_int8(build(None)) if first is None else first
    shift = logit_bias(build(None), first, latents, batch)
    return convert_int8(build(shift)), [float(v) for v in shift]


def _interpreter(model: bytes, preserve: bool = False):
    """A LiteRT interpreter on its builtin kernels, tensors allocated (`preserve`: intermediates kept)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_content=model,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        experimental_preserve_all_tensors=preserve,
    )
    interpreter.allocate_tensors()
    return interpreter


def _batches(interpreter, latents: np.ndarray, batch: int):
    """Invoke `interpreter` (a fixed-batch decoder) on `latents` (N, D) tiled to whole batches, yielding after
    each call."""
    (z,) = interpreter.get_input_details()
    rows = np.resize(latents, (max(batch, -(-len(latents) // batch) * batch), latents.shape[1]))
    for i in range(0, len(rows), batch):
        interpreter.set_tensor(z["index"], _to(z, rows[i : i + batch]))
        interpreter.invoke()
        yield


def _decode(model: bytes, latents: np.ndarray, batch: int, preserve: bool = False):
    """Run a fixed-batch TFLite decoder over `latents` (N, D) -> ((N, H, W, C), the interpreter) on LiteRT's
    builtin kernels."""
    interpreter = _interpreter(model, preserve)
    (image,) = interpreter.get_output_details()
    out = [_from(image, interpreter.get_tensor(image["index"])) for _ in _batches(interpreter, latents, batch)]
    return np.concatenate(out)[: len(latents)], interpreter


def _to(detail: dict, values: np.ndarray) -> np.ndarray:
    """float32 values in the tensor's dtype (int8 I/O: quantized with its scale and zero point)."""
    if detail["dtype"] == np.float32:
        return values.astype(np.float32)
    scale, zero = detail["quantization"]
    return np.clip(np.round(values / scale) + zero, -128, 127).astype(detail["dtype"])


def _from(detail: dict, values: np.ndarray) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return values.copy()
    scale, zero = detail["quantization"]
    return (values.astype(np.float32) - zero) * scale


def score(model: bytes, groups: dict[str, np.ndarray], expected: dict[str, np.ndarray], batch: int) -> dict:
    """{group: PSNR dB of the graph's images against Keras'}."""
    return {g: round(float(psnr(_decode(model, rows, batch)[0], expected[g])), 3) for g, rows in groups.items()}


def choose(source, latents: np.ndarray, calibration_rows: int, calibration_batches) -> tuple[IntegerForm, bytes]:
    """(the form, its int8 graph at SELECTION_BATCH) for `source`'s decoder; `latents` (N, D) interleave
    prior and posterior samples, the first `calibration_rows` calibrate, the rest score."""
    calibration, groups = split_latents(latents, calibration_rows)
    expected = {g: np.asarray(source.decoder(rows, training=False)) for g, rows in groups.items()}
    batch = SELECTION_BATCH
    candidates = [IntegerForm(subpixel=True, equalization=s) for s in STRENGTHS]
    candidates.append(IntegerForm(subpixel=False, equalization=1.0, activations="int16"))
    best, best_model, tried = None, b"", []
    for form in candidates:
        if form.activations == "int16" and best is not None and best.worst_db >= PSNR_GATE:
            break
        model = _convert(function(source, form, batch, calibration), form, calibration_batches(calibration, batch))
        form.psnr_db = score(model, groups, expected, batch)
        tried.append({"form": form.label(), "psnr_db": form.psnr_db})
        if best is None or form.worst_db > best.worst_db:
            best, best_model = form, model
        if form.worst_db >= TARGET_DB:
            break

    def build(shift):
        best.logit_shift = [] if shift is None else [float(v) for v in shift]
        return function(source, best, batch, calibration)

    def convert_int8(function_):
        return _convert(function_, best, calibration_batches(calibration, batch))

    best_model, best.logit_shift = corrected(build, convert_int8, posterior_rows(latents), batch, best_model)
    best.psnr_db = score(best_model, groups, expected, batch)
    best.tried = tried
    if best.worst_db < PSNR_GATE:
        best.blame = blame(function(source, best, batch, calibration), best_model, calibration[:batch])
    return best, best_model


def blame(function_, quantized: bytes, latents: np.ndarray) -> str:
    """The op whose output loses the most signal-to-noise against the same graph in float, as one line:
    'CONV_2D <tensor>: SNR 41.2 -> 18.3 dB'. `latents` (batch, D) is one batch of the graph."""
    reference = convert.to_tflite(function_)
    batch = len(latents)
    _, float_run = _decode(reference, latents, batch, preserve=True)
    _, int_run = _decode(quantized, latents, batch, preserve=True)
    floats = {t["name"]: t["index"] for t in float_run.get_tensor_details()}
    activations = {o for op in int_run._get_ops_details() for o in op["outputs"]}
    activations |= {d["index"] for d in int_run.get_input_details()}
    snr = {}
    for tensor in int_run.get_tensor_details():
        scale = tensor["quantization_parameters"]["scales"]
        if tensor["index"] not in activations or tensor["name"] not in floats or len(scale) != 1:
            continue
        try:
            q = int_run.get_tensor(tensor["index"]).astype(np.float64)
            f = float_run.get_tensor(floats[tensor["name"]]).astype(np.float64)
        except ValueError:
            continue
        if q.shape != f.shape:
            continue
        value = (q - tensor["quantization_parameters"]["zero_points"][0]) * scale[0]
        noise = float(np.mean((value - f) ** 2))
        snr[tensor["index"]] = 10 * np.log10(max(float(np.mean(f**2)), 1e-30) / max(noise, 1e-30))
    worst, line = 0.0, "no single op stands out"
    for op in int_run._get_ops_details():
        ins = [snr[i] for i in op["inputs"] if i in snr]
        outs = [(snr[o], o) for o in op["outputs"] if o in snr]
        if not ins or not outs:
            continue
        drop = max(ins) - outs[0][0]
        if drop > worst:
            name = next(t["name"] for t in int_run.get_tensor_details() if t["index"] == outs[0][1])
            worst, line = drop, f"{op['op_name']} {name}: SNR {max(ins):.1f} -> {outs[0][0]:.1f} dB"
    return line
