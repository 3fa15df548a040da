"""`load(bundle)` -> a Generator: sampling on the host, the graphs on onnxruntime (or LiteRT, or OpenVINO).

Every file is hash-checked against the manifest before any model is opened; one session per model
is created at load and reused by every call; work is done in chunks so any n runs in bounded memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vaedge.errors import BundleError, InputError
from vaedge.io.files import describe
from vaedge.runtime.auto import open_auto
from vaedge.runtime.backends import open_role
from vaedge.runtime.inputs import (
    as_images,
    as_latents,
    as_numeric,
    check_memory,
    non_negative_float,
    positive_int,
    seed_value,
)
from vaedge.runtime.manifest import CHUNK, Manifest, read_all, read_manifest, unlisted_files
from vaedge.runtime.options import AUTO, MAX_THREADS, EngineOptions, checked
from vaedge.runtime.sampling import fresh_seed, host_sample, latent_grid, portable_eps

__all__ = ["MAX_THREADS", "Generator", "load", "load_bundle", "open_generator"]


def load(
    bundle,
    backend: str = AUTO,
    providers: list[str] | None = None,
    precision: str = "fp32",
    threads: int | None = None,
    chunk: int = CHUNK,
    public_key=None,
    device: str | None = None,
) -> Generator:
    """Open a bundle directory written by `vaedge export`; raise BundleError/InputError on any problem.

    `backend="auto"` runs each call on the installed engine measured fastest at its batch size on this
    machine (runtime.auto; `generator.engine` says which and why); a registry name forces one engine.
    `backend="openvino"` runs the ONNX files on OpenVINO's `device` (CPU, GPU, NPU or AUTO; default CPU).

    With `public_key` (a PEM file), the bundle's signature must verify with it (SignatureError)."""
    options = EngineOptions(backend, precision, providers, threads, device)
    return load_bundle(bundle, options, chunk, public_key)


def load_bundle(bundle, options: EngineOptions = EngineOptions(), chunk: int = CHUNK, public_key=None) -> Generator:
    """`load` with the engine options as one EngineOptions (checked here, before any file is read)."""
    options = checked(options)
    chunk = positive_int(chunk, "chunk")
    manifest = read_manifest(bundle_path(bundle))
    extra = unlisted_files(manifest)
    if extra:
        raise BundleError(f"{describe(manifest.root)}: files not listed in the manifest: {', '.join(extra)}")
    loaded = read_all(manifest)  # every file once, hash-checked: the engines load these very bytes
    if public_key is not None:
        from vaedge.runtime.signature import verify_bundle

        verify_bundle(manifest, loaded, bundle_path(public_key))
    return open_generator(manifest, loaded, options, chunk)


def open_generator(manifest: Manifest, loaded: dict, options: EngineOptions, chunk: int = CHUNK) -> Generator:
    """A Generator for a manifest whose files' bytes are `loaded` ({path: hash-checked bytes}); the
    options are taken as checked (`load` checks them)."""
    # Both sessions open now, so a file an engine rejects is refused at load, not mid-job. TFLite
    # graphs have fixed batches: each role is the set of them, picked per chunk (fixed_batch.plan).
    if options.backend == AUTO:
        encoder, decoder, choice = open_auto(manifest, loaded, options)
        return Generator(manifest, (encoder, decoder), options, chunk)
    opened = [open_role(manifest, role, options, loaded) for role in ("encoder", "decoder")]
    return Generator(manifest, tuple(opened), options, chunk)


def bundle_path(bundle) -> Path:
    """A bundle argument as a Path; anything but a str or os.PathLike is an InputError."""
    if isinstance(bundle, bytes) or not isinstance(bundle, (str, os.PathLike)):
        raise InputError(f"bundle must be a path (str or os.PathLike), got {type(bundle).__name__}")
    return Path(bundle)


class Generator:
    """Images (N, H, W, C) float32 in [0, 1] from latents (N, D) and back, for one loaded bundle."""

    def __init__(self, manifest, engines: tuple, options: EngineOptions = EngineOptions(), chunk: int = CHUNK):
        """`engines`: (encoder, decoder), opened with `options` (backend and precision as the caller names them)."""
        self.manifest, self.options = manifest, options
        self.encoder, self.decoder = engines
        self.image_shape = manifest.image_shape
        self.latent_dim = manifest.latent_dim
        self.chunk = chunk

    @property
    def backend(self) -> str:
        return self.options.backend

    @property
    def precision(self) -> str:
        return self.options.precision

    @property
    def engine(self) -> str:
        """What runs and why, e.g. "auto (fp32, cached): batch 1 onnx, 64 openvino, ..." or "onnx (forced)"."""
        choice = getattr(self.decoder, "choice", None)
        return choice.describe() if choice is not None else f"{self.backend} (forced)"

    @property
    def providers(self) -> list[str]:
        return self.decoder.providers

    def _check_fits(self, n: int) -> None:
        """Refuse n images that would take more than half of this machine's memory."""
        check_memory(n * int(np.prod(self.image_shape)) * 4, f"{n} images")

    def _result(self, n: int) -> np.ndarray:
        """An empty float32 (n, H, W, C) result that fits in memory."""
        self._check_fits(n)
        return np.empty((n, *self.image_shape), np.float32)

    def _decode_chunk(self, z: np.ndarray) -> np.ndarray:
        images = self.decoder.run({"z": z})["image"]
        if not np.isfinite(images).all():
            # finite but huge latents overflow inside the graph (inf * 0 -> nan)
            raise InputError(
                f"the decoder overflowed on latents up to |z| = {float(np.abs(z).max()):.3g}; "
                "latents from the prior are of order 1"
            )
        return images

    def decode(self, z) -> np.ndarray:
        """z (N, D) -> images (N, H, W, C) in [0, 1]."""
        z = as_latents(z, self.latent_dim)
        out = self._result(len(z))
        for start in range(0, len(z), self.chunk):
            out[start : start + self.chunk] = self._decode_chunk(z[start : start + self.chunk])
        return out

    def encode(self, images) -> tuple[np.ndarray, np.ndarray]:
        """images (N, H, W, C) (uint8 0..255 or float [0, 1]) -> (z_mean, z_log_var), each (N, D)."""
        images = as_images(images, self.image_shape)
        z_mean = np.empty((len(images), self.latent_dim), np.float32)
        z_log_var = np.empty_like(z_mean)
        for start in range(0, len(images), self.chunk):
            out = self.encoder.run({"image": images[start : start + self.chunk]})
            z_mean[start : start + self.chunk] = out["z_mean"]
            z_log_var[start : start + self.chunk] = out["z_log_var"]
        return z_mean, z_log_var

    def iter_sample(self, n: int, seed: int | None = None, temperature: float = 1.0):
        """Yield (images, eps) chunks of at most `chunk` rows until n images were made: memory stays
        bounded by the chunk whatever n is. Same seed, same images as `sample`."""
        n = positive_int(n, "n")
        temperature = non_negative_float(temperature, "temperature")
        seed = seed_value(seed)
        seed = fresh_seed() if seed is None else seed
        for start in range(0, n, self.chunk):
            eps = portable_eps(min(self.chunk, n - start), self.latent_dim, seed, start_row=start)
            with np.errstate(over="ignore"):
                z = (temperature * eps).astype(np.float32)
            yield self._decode_chunk(z), eps

    def sample(self, n: int, seed: int | None = None, temperature: float = 1.0, return_eps: bool = False):
        """n images from the prior: z = temperature * eps, eps ~ N(0, I) from the portable stream (portable_eps).

        Returns images (n, H, W, C), or (images, eps) with `return_eps`.
        """
        n = positive_int(n, "n")
        images = self._result(n)
        eps_all = np.empty((n, self.latent_dim), np.float32)
        start = 0
        for chunk_images, eps in self.iter_sample(n, seed, temperature):
            images[start : start + len(eps)], eps_all[start : start + len(eps)] = chunk_images, eps
            start += len(eps)
        return (images, eps_all) if return_eps else images

    def reconstruct(self, images, seed: int | None = None, sample: bool = True, return_eps: bool = False):
        """images -> reconstructions (N, H, W, C); z = z_mean + exp(0.5 * z_log_var) * eps on the host,
        or z = z_mean with `sample=False`."""
        z_mean, z_log_var = self.encode(images)
        eps = portable_eps(len(z_mean), self.latent_dim, seed_value(seed)) if sample else np.zeros_like(z_mean)
        with np.errstate(over="ignore"):
            z = host_sample(z_mean, z_log_var, eps)
        out = self.decode(z)
        return (out, eps) if return_eps else out

    def _as_latent(self, point) -> np.ndarray:
        """One image (H, W, C) or one latent (D,) -> a latent (D,)."""
        array = as_numeric(point, "each end of an interpolation")
        if array.ndim == 1 or array.shape == (1, self.latent_dim):
            return as_latents(array, self.latent_dim)[0]
        z_mean, _ = self.encode(array)
        if len(z_mean) != 1:
            raise InputError(f"each end of an interpolation is one image or latent, got {len(z_mean)} images")
        return z_mean[0]

    def interpolate(self, a, b, steps: int = 10) -> np.ndarray:
        """`steps` images on the straight line between a and b (each an image or a latent (D,))."""
        steps = positive_int(steps, "steps")
        self._check_fits(steps)
        start, end = self._as_latent(a), self._as_latent(b)
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        return self.decode((1 - t) * start + t * end)

    def latent_grid(self, size: int = 20, images=None) -> np.ndarray:
        """(size*size, H, W, C) decoded over the prior's quantiles: the course's latent map for D = 2;
        for D > 2, over the two dims where `images`' z_mean varies most (others at their mean)."""
        size = positive_int(size, "size")
        self._check_fits(size * size)  # before the grid's latents are made
        if self.latent_dim <= 2 or images is None:
            if self.latent_dim > 2 and images is None:
                raise InputError(
                    f"latent dim is {self.latent_dim}: pass images to choose the two dims with most variance"
                )
            return self.decode(latent_grid(self.latent_dim, size))
        z_mean, _ = self.encode(images)
        dims = tuple(int(d) for d in np.argsort(z_mean.var(axis=0))[::-1][:2])
        return self.decode(latent_grid(self.latent_dim, size, dims=dims, center=z_mean.mean(axis=0)))
