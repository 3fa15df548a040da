"""Reference outputs from Keras for the parity checks, and `vaedge validate --keras`.

Without Keras, `vaedge validate` uses `vaedge.runtime.parity.validate_stored`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaedge.export.sources import KerasSource
from vaedge.runtime.manifest import check_files, read_manifest
from vaedge.runtime.parity import LATENT_GROUPS, Check, check_bundle
from vaedge.runtime.sampling import latent_grid, portable_eps

STORED_PER_PROBE = 32


def keras_reference(source: KerasSource, held_out: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Keras outputs on held-out images, on prior samples, posterior means and a latent grid,
    and a sampled reconstruction where Keras' Sampling layer is given the same eps as the host."""
    from vaedge.train.model import Sampling

    images = held_out.astype(np.float32)
    encoded = source.encoder(images, training=False)
    z_mean, z_log_var = (np.asarray(encoded[k], np.float32) for k in ("z_mean", "z_log_var"))
    dim = source.latent_dim
    prior = portable_eps(len(images), dim, seed)
    grid = latent_grid(dim, size=8)
    latents = np.concatenate([prior, z_mean, grid]).astype(np.float32)
    groups = np.repeat(np.arange(len(LATENT_GROUPS)), [len(prior), len(z_mean), len(grid)])
    eps = portable_eps(len(images), dim, seed + 1)
    z = np.asarray(Sampling()(z_mean, z_log_var, eps=eps), np.float32)
    return {
        "images": images,
        "z_mean": z_mean,
        "z_log_var": z_log_var,
        "latents": latents,
        "latent_group": groups,
        "decoded": np.asarray(source.decoder(latents, training=False), np.float32),
        "eps": eps,
        "reconstruction": np.asarray(source.decoder(z, training=False), np.float32),
    }


def stored_subset(reference: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A small slice of the reference to keep in the bundle, for validation without Keras."""
    n = STORED_PER_PROBE
    keep = np.concatenate([np.flatnonzero(reference["latent_group"] == g)[:n] for g in range(len(LATENT_GROUPS))])
    subset = {k: reference[k][:n] for k in ("images", "z_mean", "z_log_var", "eps", "reconstruction")}
    subset.update({k: reference[k][keep] for k in ("latents", "latent_group", "decoded")})
    return subset


def validate(
    bundle: Path, source: KerasSource, held_out: np.ndarray, seed: int = 0, formats=("onnx", "tflite"), backends=None
) -> list[Check]:
    """Check hashes, then every graph against fresh Keras outputs on `held_out` (N, H, W, C), on each
    of `backends` (default: every file on its format's own engine)."""
    manifest = read_manifest(bundle)
    check_files(manifest)
    return check_bundle(manifest, keras_reference(source, held_out, seed), formats=formats, backends=backends)
