"""Model quality in nats, from the exported graphs: the ELBO and the importance-weighted bound (IWAE).

For an image x (pixels in [0, 1], the Bernoulli likelihood training uses: binary cross-entropy
summed over pixels, probabilities clipped to [1e-7, 1 - 1e-7] as Keras does) and K draws
`z_k = z_mean + exp(0.5 * z_log_var) * eps_k` on the host:

    w_k = log p(x | z_k) + log N(z_k; 0, I) - log q(z_k | x)
    -log p(x) ~ -logmeanexp_k w_k          (IWAE, Burda et al. 2015; a bound that tightens with K)
    negative ELBO ~ -w_0                    (one eps per image: the same eps as the IWAE's first)

so with K = 1 both are the same number. Image i draws its eps from its own stream, seeded by
(seed, i) (`vaedge.eps`, the convention training's held-out figure uses too): figures do not depend
on how the work is chunked, the ELBO is the same for every K, and a larger K only adds samples. Work
is chunked over images and over K, so K = 1000 on 1000 images runs in bounded memory.

The Bernoulli likelihood of grey pixels in [0, 1] is not a normalised density, so these nats compare
only with each other; `binarize=True` scores stochastically binarised images (pixel ~ Bernoulli(x),
image i from its own seeded stream), the protocol of published MNIST likelihoods.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import PurePath

import numpy as np

from vaedge.eps import heldout_stream
from vaedge.runtime.inputs import as_images, positive_int, seed_value
from vaedge.runtime.sampling import host_sample

LOG_2PI = math.log(2 * math.pi)
CLIP = 1e-7  # keras.ops.binary_crossentropy's epsilon
DECODES_PER_CALL = 2048
LIKELIHOOD = "Bernoulli: binary cross-entropy summed over pixels, as in training"
BINARIZED = "; test images stochastically binarised (pixel ~ Bernoulli(grey level), seeded)"
BINARIZE_STREAM = 0xB1  # keeps the binarisation's draws apart from the eps streams


@dataclass
class Quality:
    """Per-variant figures in nats per image (lower is better)."""

    file: str
    precision: str
    backend: str
    images: int
    k: int
    neg_elbo: float
    iwae_nll: float
    iwae_stderr: float
    neg_elbo_stderr: float
    iwae_per_image: np.ndarray = field(default=None, repr=False)  # -log p(x) estimates, (N,): for paired differences

    def as_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key != "iwae_per_image"}

    def minus(self, other: "Quality") -> tuple[float, float]:
        """(mean, standard error) of this variant's IWAE minus `other`'s on the same images and eps: paired,
        so far tighter than either figure's own standard error."""
        difference = self.iwae_per_image - other.iwae_per_image
        n = len(difference)
        return float(difference.mean()), float(difference.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")


def log_likelihood(x: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """log p(x|z) of Bernoulli pixels: x (..., P) in [0, 1], probabilities (..., P) -> (...,), float64."""
    p = np.clip(probabilities.astype(np.float64), CLIP, 1 - CLIP)
    return np.sum(x * np.log(p) + (1 - x) * np.log1p(-p), axis=-1)


def log_weights(x, z_mean, z_log_var, eps, decode) -> np.ndarray:
    """w (n, k) for images x (n, P) in [0, 1], z_mean/z_log_var (n, D), eps (n, k, D); `decode(z)` maps
    (m, D) latents to (m, P) pixel probabilities."""
    n, k, d = eps.shape
    z = host_sample(z_mean[:, None, :], z_log_var[:, None, :], eps)
    probabilities = decode(z.reshape(n * k, d)).reshape(n, k, -1)
    log_prior = -0.5 * np.sum(z.astype(np.float64) ** 2, axis=-1) - 0.5 * d * LOG_2PI
    log_posterior = -0.5 * np.sum(eps.astype(np.float64) ** 2 + z_log_var[:, None, :], axis=-1) - 0.5 * d * LOG_2PI
    return log_likelihood(x[:, None, :], probabilities) + log_prior - log_posterior


def binarized(x: np.ndarray, seed: int) -> np.ndarray:
    """Images (N, ...) in [0, 1] -> {0, 1} float32: pixel ~ Bernoulli(x), image i from stream (seed, 0xB1, i)."""
    return np.stack(
        [np.random.default_rng([seed, BINARIZE_STREAM, i]).random(x.shape[1:]) < image for i, image in enumerate(x)]
    ).astype(np.float32)


def evaluate(
    generator,
    images,
    k: int = 100,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    binarize: bool = False,
) -> Quality:
    """Negative ELBO and IWAE -log p(x) of `images` (N, H, W, C) (uint8 or [0, 1]) under one loaded variant;
    with `binarize`, of the images stochastically binarised with `seed`."""
    k = positive_int(k, "k")
    root = seed_value(seed)
    root = np.random.SeedSequence().entropy if root is None else root
    x_all = as_images(images, generator.image_shape)
    if binarize:
        x_all = binarized(x_all, root)
    n = len(x_all)
    per_call = max(1, DECODES_PER_CALL // k)  # images per decode batch when K is small
    k_chunk = min(k, DECODES_PER_CALL)
    iwae, elbo, done = np.empty(n), np.empty(n), 0

    def decode(z):
        return generator.decode(z).reshape(len(z), -1)

    for start in range(0, n, per_call):
        x = x_all[start : start + per_call].reshape(-1, int(np.prod(generator.image_shape))).astype(np.float64)
        z_mean, z_log_var = (a.astype(np.float64) for a in generator.encode(x_all[start : start + per_call]))
        streams = [heldout_stream(root, i) for i in range(start, start + len(x))]
        total = np.full(len(x), -np.inf)  # running log-sum-exp over K, chunk by chunk
        for k_start in range(0, k, k_chunk):
            eps = np.stack([s.standard_normal((min(k_chunk, k - k_start), generator.latent_dim)) for s in streams])
            w = log_weights(x, z_mean, z_log_var, eps, decode)
            if k_start == 0:
                elbo[start : start + len(x)] = w[:, 0]
            total = np.logaddexp(total, _logsumexp(w))
            done += w.size
            if progress is not None:
                progress(done, n * k)
        iwae[start : start + len(x)] = total - math.log(k)
    return Quality(
        file=decoder_files(generator),
        precision=generator.precision,
        backend=generator.backend,
        images=n,
        k=k,
        neg_elbo=float(-elbo.mean()),
        iwae_nll=float(-iwae.mean()),
        iwae_stderr=float(iwae.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
        neg_elbo_stderr=float(elbo.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
        iwae_per_image=-iwae,
    )


def decoder_files(generator) -> str:
    """The bundle files that decoded, e.g. 'decoder.int8.onnx' or
    'decoder.int8io.b1.tflite, decoder.int8io.b64.tflite'."""
    names = getattr(generator.decoder, "name", "")  # paths, comma-joined for a set of fixed-batch graphs
    return ", ".join(PurePath(name).name for name in names.split(", ") if name)


def _logsumexp(w: np.ndarray) -> np.ndarray:
    top = w.max(axis=1)
    return top + np.log(np.sum(np.exp(w - top[:, None]), axis=1))
