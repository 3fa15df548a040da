"""Sampling on the host: the reparameterisation step, the eps stream and latent probes, never inside a graph.

The portable eps stream (`portable_eps`: prior samples, posterior draws, export's checks): the page
(src/vaedge/web/static/vaedge.js, `epsStream`) computes the same numbers from the same seed, so
`vaedge generate --seed N` and the page's seed N decode the same latents. (The eps of held-out figures
is another convention, one numpy stream per test image: `vaedge.eps.heldout_eps`.) The stream, as
docs/eps-stream.md defines it:

    word k (k = 0, 1, ...) = splitmix64 finaliser of (seed + (k + 1) * 0x9E3779B97F4A7C15) mod 2**64
    u_k = ((word_k >> 11) + 0.5) / 2**53                     uniform in (0, 1), never 0 or 1
    eps_i = float32(sqrt(-2 ln u_2i) * cos(2 pi u_2i+1))      Box-Muller in float64, element i of the
                                                              row-major (n, D) array
"""

from __future__ import annotations

import os

import numpy as np

GOLDEN = 0x9E3779B97F4A7C15
MIX = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
MAX_SEED = 2**64 - 1
BLOCK = 1 << 20  # eps per pass: bounded temporaries whatever n is


def host_sample(z_mean: np.ndarray, z_log_var: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """z = z_mean + exp(0.5 * z_log_var) * eps; all (N, D), float32."""
    return (z_mean + np.exp(0.5 * z_log_var) * eps).astype(np.float32)


def fresh_seed() -> int:
    """A random seed for when none is given (the stream itself is always seeded)."""
    return int.from_bytes(os.urandom(8), "big") >> 1  # 63 bits, as secrets.randbits(63)


def splitmix64_words(seed: int, start: int, count: int) -> np.ndarray:
    """Words start..start+count-1 of the stream for `seed`, uint64 (count,)."""
    with np.errstate(over="ignore"):  # arithmetic mod 2**64 is the point
        k = np.arange(start + 1, start + count + 1, dtype=np.uint64)
        x = k * np.uint64(GOLDEN) + np.uint64(seed % 2**64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(MIX[0])
        x = (x ^ (x >> np.uint64(27))) * np.uint64(MIX[1])
        return x ^ (x >> np.uint64(31))


def eps_stream(seed: int, start: int, count: int) -> np.ndarray:
    """Elements start..start+count-1 of the eps stream for `seed`, float32 (count,) ~ N(0, 1)."""
    out = np.empty(count, np.float32)
    for first in range(0, count, BLOCK):
        n = min(BLOCK, count - first)
        words = splitmix64_words(seed, 2 * (start + first), 2 * n)
        u = ((words >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
        out[first : first + n] = np.sqrt(-2.0 * np.log(u[0::2])) * np.cos(2.0 * np.pi * u[1::2])
    return out


def portable_eps(n: int, latent_dim: int, seed: int | None, start_row: int = 0) -> np.ndarray:
    """eps ~ N(0, I), shape (n, D): rows start_row.. of the portable stream for `seed`
    (a fresh random seed when None)."""
    seed = fresh_seed() if seed is None else seed
    return eps_stream(seed, start_row * latent_dim, n * latent_dim).reshape(n, latent_dim)


def latent_grid(
    latent_dim: int,
    size: int = 8,
    low: float = 0.05,
    high: float = 0.95,
    dims: tuple[int, int] = (0, 1),
    center: np.ndarray | None = None,
) -> np.ndarray:
    """(size*size, D) latents on the prior's quantiles over two dims (row-major: dim[0] down, dim[1] across).

    Other dims are held at `center` (default 0), so for D = 2 this is the course's latent map.
    """
    from statistics import NormalDist  # only the latent grid needs it, not every start

    values = np.array([NormalDist().inv_cdf(q) for q in np.linspace(low, high, size)], np.float32)
    grid = np.tile(np.zeros(latent_dim, np.float32) if center is None else center.astype(np.float32), (size * size, 1))
    rows, cols = np.meshgrid(values[::-1], values, indexing="ij")
    grid[:, dims[0]] = rows.ravel()
    if latent_dim > 1:
        grid[:, dims[1]] = cols.ravel()
    return grid
