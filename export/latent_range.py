"""The latent map's range, fixed at export from the held-out images and stored in the manifest's
`latent_map` section, so that `vaedge explain`, `vaedge manifold`, `vaedge clusters` and the page all
draw the same [-span, span]^2.

A trained VAE's aggregate posterior spreads wider than the prior N(0, I), so a map over the prior's
[-3, 3] loses a large share of real images. The rule: symmetric, covering the QUANTILE of the held-out
|z_mean| in each of the two dims the map shows, rounded up to a whole number, never below the prior's
PRIOR_SPAN.
"""

from __future__ import annotations

import numpy as np

from vaedge.errors import ExportError
from vaedge.runtime.manifest import MAX_SPAN, PRIOR_SPAN

QUANTILE = 0.99


def shown_dims(z_mean: np.ndarray) -> list[int]:
    """The dims the map shows for z_mean (N, D): 0 and 1 for D = 2, else the two with most variance
    (ties to the lower index), as the page and `vaedge manifold` choose them."""
    variance = np.asarray(z_mean, np.float64).var(axis=0)
    order = sorted(range(z_mean.shape[1]), key=lambda j: (-variance[j], j))
    return sorted(order[:2]) if z_mean.shape[1] == 2 else order[:2]


def latent_map_section(z_mean: np.ndarray) -> dict:
    """The manifest's `latent_map` section from held-out z_mean (N, D): span, the dims it was measured
    over, the quantile and the number of images."""
    z_mean = np.asarray(z_mean, np.float64)
    if z_mean.ndim != 2 or len(z_mean) < 1 or not np.isfinite(z_mean).all():
        raise ExportError(f"held-out z_mean must be finite (N >= 1, D), got shape {z_mean.shape}")
    dims = shown_dims(z_mean)
    reach = float(np.quantile(np.abs(z_mean[:, dims]), QUANTILE, axis=0).max())
    span = min(MAX_SPAN, max(PRIOR_SPAN, float(np.ceil(reach))))
    return {
        "span": span,
        "dims": [int(d) for d in dims],
        "quantile": QUANTILE,
        "images": int(len(z_mean)),
        "rule": f"symmetric, covering the {QUANTILE:g} quantile of held-out |z_mean| per shown dim, at least "
        f"{PRIOR_SPAN:g}",
    }
