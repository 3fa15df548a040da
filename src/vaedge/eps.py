"""The eps of held-out figures: test image i draws its noise from its own stream, seeded by (seed, i).

Training's held-out negative ELBO (every epoch's validation) and `vaedge evaluate` (the first of its
K draws) use this one convention, so a model always gets the same figure, and the exported graphs'
figure can be checked against the one training reports.

Not to be mixed up with the portable eps stream (`vaedge.runtime.sampling.portable_eps`), one stream per
seed that Python and the page share, for generation and latent probes.
"""

from __future__ import annotations

import numpy as np


def heldout_stream(seed: int, index: int) -> np.random.Generator:
    """The generator of test image `index`'s eps: `standard_normal((k, D))` gives its K draws."""
    return np.random.default_rng([seed, index])


def heldout_eps(count: int, latent_dim: int, seed: int) -> np.ndarray:
    """(count, D) float32: the first eps of test images 0..count-1."""
    return np.stack([heldout_stream(seed, i).standard_normal(latent_dim) for i in range(count)]).astype(np.float32)
