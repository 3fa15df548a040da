"""Checks on what callers pass in: every problem becomes an InputError that says what was expected."""

from __future__ import annotations

import numbers

import numpy as np

from vaedge.errors import InputError


def as_latents(z, latent_dim: int) -> np.ndarray:
    """(N, D) or (D,) real numbers -> float32 (N, D); refuses wrong size, non-numeric, non-finite."""
    z = _numeric(z, "z")
    if z.ndim == 1:
        z = z[None, :]
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise InputError(f"z must have shape (N, {latent_dim}), got {z.shape}")
    if z.shape[0] == 0:
        raise InputError("z is empty (N = 0)")
    with np.errstate(over="ignore", invalid="ignore"):
        z = np.ascontiguousarray(z, dtype=np.float32)  # before the check: float64 can overflow float32
    if not np.isfinite(z).all():
        raise InputError("z holds NaN or infinite values (or values beyond float32 range)")
    return z


def as_images(images, image_shape: tuple[int, int, int]) -> np.ndarray:
    """(N, H, W, C) or (H, W, C) -> float32 (N, H, W, C) in [0, 1].

    uint8 and other integer images must be in 0..255 and are divided by 255; float images must
    already be in [0, 1]. For C = 1, (N, H, W) is accepted too.
    """
    images = _numeric(images, "images")
    height, width, channels = image_shape
    if channels == 1 and images.ndim in (2, 3) and images.shape[-2:] == (height, width):
        images = images[..., None]
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[1:] != (height, width, channels):
        raise InputError(f"images must have shape (N, {height}, {width}, {channels}), got {images.shape}")
    if images.shape[0] == 0:
        raise InputError("images is empty (N = 0)")
    if images.dtype.kind in "iu" or images.dtype == np.bool_:
        if images.dtype != np.bool_ and (images.min() < 0 or images.max() > 255):
            raise InputError(f"integer images must be in 0..255, got {images.min()}..{images.max()}")
        return np.ascontiguousarray(images, dtype=np.float32) / 255.0
    with np.errstate(over="ignore", invalid="ignore"):
        images = np.asarray(images, dtype=np.float32)
    if not np.isfinite(images).all():
        raise InputError("images hold NaN or infinite values")
    if images.min() < 0.0 or images.max() > 1.0:
        raise InputError(f"float images must be in [0, 1], got {float(images.min()):.4g}..{float(images.max()):.4g}; "
                         "divide 0..255 pixels by 255")
    return np.ascontiguousarray(images, dtype=np.float32)


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def seed_value(seed):
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def _numeric(x, name: str) -> np.ndarray:
    try:
        array = np.asarray(x)
    except Exception as exc:  # ragged lists and exotic objects
        raise InputError(f"{name} is not an array ({exc})") from None
    if array.dtype.kind not in "biuf":
        raise InputError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.dtype.kind == "f" and array.dtype.itemsize > 8:
        array = array.astype(np.float64)
    return array
