"""What the encoder says about one image, as numbers: q(z|x) = N(z_mean, diag(sigma^2)) with
sigma = exp(0.5 * z_log_var), K samples z = z_mean + sigma * eps drawn on the host, and the latent
map those numbers are drawn on (the same map as the page's and `vaedge manifold`'s).

The map spans z[a] across (left to right) and z[b] up, each from -span to span, `cells` tiles a side,
each tile the decode of its centre; a = 0, b = 1 for latent dim 2, else the two dims whose z_mean
varies most over held-out images (other dims at 0, the prior's mean). The span is the bundle's
(`latent_map` in its manifest, chosen at export to cover where the encoder puts held-out images;
SPAN, the prior's [-3, 3], for older bundles) unless `--range` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaedge.errors import InputError
from vaedge.runtime.inputs import seed_value
from vaedge.runtime.manifest import MAX_SPAN, PRIOR_SPAN
from vaedge.runtime.sampling import MAX_SEED, host_sample, portable_eps

SPAN = PRIOR_SPAN
FAR = 4.0  # |z_mean| beyond this in any dim is far outside the prior N(0, I)


def far_limit(span: float) -> float:
    """The |z_mean| past which an image is unlike the training data: FAR, or the bundle's map span (the
    99th percentile of held-out |z_mean|) where the trained encoder spreads images wider than the prior."""
    return max(FAR, float(span))


KERAS_LAYERS = {
    "z_mean": "Dense layer `z_mean` (the course's mu)",
    "z_log_var": "Dense layer `z_log_var` (the course's sigma, a log-variance)",
}


@dataclass(frozen=True)
class Posterior:
    """One image's q(z|x) and K samples from it; every array float32, z_mean/z_log_var/sigma (D,), eps/z (K, D)."""

    z_mean: np.ndarray
    z_log_var: np.ndarray
    sigma: np.ndarray
    eps: np.ndarray
    z: np.ndarray
    seed: int

    def far_from_prior(self, span: float = FAR) -> bool:
        """True when z_mean lies where neither the prior N(0, I) nor the model's held-out images go:
        |z_mean| > far_limit(span) in a dim, `span` the bundle's map span."""
        return bool(np.abs(self.z_mean).max() > far_limit(span))

    def ellipse(self, dims: tuple[int, int], k: float) -> tuple[np.ndarray, np.ndarray]:
        """(centre, radii), each (2,), of the k-sigma ellipse of q(z|x) over `dims`, in map units (z)."""
        a, b = dims
        return self.z_mean[[a, b]].copy(), k * self.sigma[[a, b]]


def posterior(z_mean: np.ndarray, z_log_var: np.ndarray, samples: int, seed: int) -> Posterior:
    """One image's (D,) encoder outputs -> its Posterior with `samples` z from the portable eps stream."""
    z_mean, z_log_var = np.asarray(z_mean, np.float32), np.asarray(z_log_var, np.float32)
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 64:
        raise InputError(f"samples must be an integer in 1..64, got {samples!r}")
    if seed_value(seed) is None or seed > MAX_SEED:
        raise InputError(f"seed must be an integer in 0..{MAX_SEED}, got {seed!r}")
    eps = portable_eps(samples, len(z_mean), seed)
    with np.errstate(over="ignore"):
        sigma = np.exp(0.5 * z_log_var).astype(np.float32)
        z = host_sample(np.tile(z_mean, (samples, 1)), np.tile(z_log_var, (samples, 1)), eps)
    return Posterior(z_mean, z_log_var, sigma, eps, z, seed)


def map_dims(latent_dim: int, z_mean: np.ndarray | None = None) -> tuple[int, int]:
    """The two dims the map spans: (0, 1) for D = 2, else the two whose z_mean (N, D) varies most."""
    if latent_dim < 2:
        raise InputError(f"latent dim is {latent_dim}: the map needs at least 2")
    if latent_dim == 2:
        return 0, 1
    if z_mean is None or len(z_mean) < 2:
        raise InputError(f"latent dim is {latent_dim}: pass held-out images to choose the two dims with most variance")
    variance = np.asarray(z_mean, np.float64).var(axis=0)
    order = sorted(range(latent_dim), key=lambda j: (-variance[j], j))
    return order[0], order[1]


def map_span(generator, override: float | None = None) -> float:
    """The map's half-side in z units: `override` (`--range`) when given, else the bundle's."""
    if override is None:
        return generator.manifest.map_span
    if isinstance(override, bool) or not isinstance(override, (int, float)) or not 0 < override <= MAX_SPAN:
        raise InputError(f"--range must be a number in (0, {MAX_SPAN:g}], got {override!r}")
    return float(override)


def beyond(z: np.ndarray, dims: tuple[int, int], span: float) -> np.ndarray:
    """(N,) True where z (N, D) lies outside the map [-span, span]^2 over `dims`."""
    z = np.atleast_2d(np.asarray(z, np.float64))
    return np.abs(z[:, list(dims)]).max(axis=1) > span


def map_latents(latent_dim: int, cells: int, dims: tuple[int, int], span: float = SPAN) -> np.ndarray:
    """(cells*cells, D) tile centres, row-major from the top-left: row r has z[b] = span - 2 span (r + 0.5) / cells,
    column c has z[a] = -span + 2 span (c + 0.5) / cells; other dims 0."""
    if isinstance(cells, bool) or not isinstance(cells, int) or not 2 <= cells <= 100:
        raise InputError(f"cells must be an integer in 2..100, got {cells!r}")
    centres = (-span + 2 * span * (np.arange(cells) + 0.5) / cells).astype(np.float32)
    z = np.zeros((cells * cells, latent_dim), np.float32)
    z[:, dims[0]] = np.tile(centres, cells)
    z[:, dims[1]] = np.repeat(centres[::-1], cells)
    return z


def to_map(z: np.ndarray, dims: tuple[int, int], size: float, span: float = SPAN) -> np.ndarray:
    """z (N, D) -> (N, 2) pixel coordinates (x right, y down) on a map `size` pixels a side."""
    z = np.atleast_2d(np.asarray(z, np.float64))
    x = (z[:, dims[0]] + span) / (2 * span) * size
    y = (span - z[:, dims[1]]) / (2 * span) * size
    return np.stack([x, y], axis=1)


def light_background(image: np.ndarray) -> bool:
    """True when the image (H, W, C) in [0, 1] has a light border (a dark object on a light background),
    the opposite polarity of MNIST-style training data, so it should be inverted first."""
    image = np.asarray(image, np.float64)
    border = np.concatenate([image[0].ravel(), image[-1].ravel(), image[:, 0].ravel(), image[:, -1].ravel()])
    return bool(border.mean() > 0.5)
