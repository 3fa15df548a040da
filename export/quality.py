"""What quantization costs the model as a density model: IWAE -log p(x) of each ONNX variant vs fp32.

PSNR against Keras says how close a variant's images are, not what it does to the likelihood.
Export measures each variant on the held-out images with the runtime's own estimator (same eps for
every variant, so the difference is paired) and says when one is more than `NLL_TARGET` nats off.
"""

from __future__ import annotations

import numpy as np

NLL_TARGET = 1.0  # nats per image
K = 16


def quality_report(manifest, loaded: dict[str, bytes], held_out: np.ndarray, seed: int) -> tuple[dict, dict]:
    """({precision: figures}, {precision: why it misses the target}) for the ONNX decoders of the bundle
    `manifest` (in memory, its files' hash-checked bytes in `loaded`)."""
    from vaedge.runtime.evaluate import evaluate
    from vaedge.runtime.generator import open_generator

    precisions = [
        p
        for p in ("fp32", "fp16", "int8")
        if any(f.role == "decoder" and f.format == "onnx" and f.precision == p for f in manifest.files)
    ]
    figures = {
        p: evaluate(open_generator(manifest, loaded, precision=p), held_out, k=K, seed=seed).as_dict()
        for p in precisions
    }
    notes = {}
    for precision, quality in figures.items():
        quality["iwae_vs_fp32"] = quality["iwae_nll"] - figures["fp32"]["iwae_nll"]
        if abs(quality["iwae_vs_fp32"]) > NLL_TARGET:
            notes[precision] = (
                f"IWAE -log p(x) {quality['iwae_vs_fp32']:+.2f} nats vs fp32 on {quality['images']} "
                f"held-out images (K={K}), more than the {NLL_TARGET:g} nat target; written, "
                "since it passed its PSNR gate"
            )
    return figures, notes
