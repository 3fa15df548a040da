"""What quantization costs the model as a density model: IWAE -log p(x) of each variant vs fp32.

PSNR against Keras says how close a variant's images are, not what it does to the likelihood.
Export measures each variant on the held-out images with the runtime's own estimator (same eps for
every variant, so the difference is paired) and says when one is more than `NLL_TARGET` nats off.
A variant is an encoder and a decoder of one kind: the ONNX graphs of a precision (`fp16`, `int8`),
or a set of TFLite graphs (`tflite int8`: float I/O, `tflite int8io`: int8 I/O), each run through its
largest fixed batch on its own engine.
"""

from __future__ import annotations

import numpy as np

NLL_TARGET = 1.0  # nats per image
K = 16


def variants(manifest) -> dict[str, dict]:
    """{variant: {role: ModelFile}} for every encoder/decoder pair the bundle has, fp32 ONNX first."""
    found = {}
    for precision in ("fp32", "fp16", "int8"):
        pair = {r: _find(manifest, r, "onnx", precision) for r in ("encoder", "decoder")}
        if pair["decoder"] is not None:
            found[precision] = pair
    for io in (False, True):
        pair = {r: _largest_tflite(manifest, r, io) for r in ("encoder", "decoder")}
        if pair["decoder"] is not None:
            found["tflite int8io" if io else "tflite int8"] = pair
    return found


def _find(manifest, role: str, fmt: str, precision: str):
    return next((f for f in manifest.files if f.role == role and f.format == fmt and f.precision == precision), None)


def _largest_tflite(manifest, role: str, int8_io: bool):
    files = [f for f in manifest.find_all(role, "tflite", "int8") if bool(f.quantization) == int8_io]
    return max(files, key=lambda f: f.batch, default=None)


def quality_report(manifest, loaded: dict[str, bytes], held_out: np.ndarray, seed: int) -> tuple[dict, dict]:
    """({variant: figures}, {variant: why it misses the target}) for the bundle `manifest` (in memory, its
    files' hash-checked bytes in `loaded`); a role without a graph of the variant's kind runs in fp32 ONNX."""
    from vaedge.runtime.backends import open_bundle_file
    from vaedge.runtime.evaluate import evaluate
    from vaedge.runtime.generator import Generator
    from vaedge.runtime.options import EngineOptions

    pairs = variants(manifest)
    figures = {}
    for name, pair in pairs.items():
        files = {role: file or pairs["fp32"][role] for role, file in pair.items()}
        engines = {role: open_bundle_file(manifest, f, loaded) for role, f in files.items()}
        backend, precision = files["decoder"].format, files["decoder"].precision
        generator = Generator(manifest, (engines["encoder"], engines["decoder"]), EngineOptions(backend, precision))
        quality = evaluate(generator, held_out, k=K, seed=seed).as_dict()
        quality["file"] = ", ".join(files[role].path for role in ("encoder", "decoder"))
        figures[name] = quality
    notes = {}
    for name, quality in figures.items():
        quality["iwae_vs_fp32"] = quality["iwae_nll"] - figures["fp32"]["iwae_nll"]
        if abs(quality["iwae_vs_fp32"]) > NLL_TARGET:
            notes[name] = (
                f"IWAE -log p(x) {quality['iwae_vs_fp32']:+.2f} nats vs fp32 on {quality['images']} "
                f"held-out images (K={K}), more than the {NLL_TARGET:g} nat target; written, "
                "since it passed its PSNR gate"
            )
    return figures, notes
