"""Sampling on the host: the reparameterisation step and latent probes, never inside a graph."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np


def host_sample(z_mean: np.ndarray, z_log_var: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """z = z_mean + exp(0.5 * z_log_var) * eps; all (N, D), float32."""
    return (z_mean + np.exp(0.5 * z_log_var) * eps).astype(np.float32)


def prior_eps(n: int, latent_dim: int, seed: int | None) -> np.ndarray:
    """eps ~ N(0, I), shape (n, D), from numpy.random.default_rng(seed)."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim), dtype=np.float32)


def latent_grid(latent_dim: int, size: int = 8, low: float = 0.05, high: float = 0.95,
                dims: tuple[int, int] = (0, 1), center: np.ndarray | None = None) -> np.ndarray:
    """(size*size, D) latents on the prior's quantiles over two dims (row-major: dim[0] down, dim[1] across).

    Other dims are held at `center` (default 0), so for D = 2 this is the course's latent map.
    """
    values = np.array([NormalDist().inv_cdf(q) for q in np.linspace(low, high, size)], np.float32)
    grid = np.tile(np.zeros(latent_dim, np.float32) if center is None else center.astype(np.float32), (size * size, 1))
    rows, cols = np.meshgrid(values[::-1], values, indexing="ij")
    grid[:, dims[0]] = rows.ravel()
    if latent_dim > 1:
        grid[:, dims[1]] = cols.ravel()
    return grid
