"""Checks on what callers pass in: every problem becomes an InputError that says what was expected."""

from __future__ import annotations

import numbers
import os

import numpy as np

from vaedge.errors import InputError

MEMORY_BYTES = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


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

    uint8 and other integer images must be in 0..255 and are divided by 255; bool images are 0 or 1;
    float images must already be in [0, 1]. For C = 1, (N, H, W) is accepted too.
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
    if images.dtype == np.bool_:  # black or white: 1.0, never 1/255
        return np.ascontiguousarray(images, dtype=np.float32)
    if images.dtype.kind in "iu":
        if images.min() < 0 or images.max() > 255:
            raise InputError(f"integer images must be in 0..255, got {images.min()}..{images.max()}")
        return np.ascontiguousarray(images, dtype=np.float32) / 255.0
    with np.errstate(over="ignore", invalid="ignore"):
        images = np.asarray(images, dtype=np.float32)
    if not np.isfinite(images).all():
        raise InputError("images hold NaN or infinite values")
    if images.min() < 0.0 or images.max() > 1.0:
        raise InputError(
            f"float images must be in [0, 1], got {float(images.min()):.4g}..{float(images.max()):.4g}; "
            "divide 0..255 pixels by 255"
        )
    return np.ascontiguousarray(images, dtype=np.float32)


def positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InputError(f"{name} must be a positive integer, got {_short(value)}")
    return int(value)


def non_negative_float(value, name: str) -> float:
    """A real number (int, float, Fraction, Decimal, numpy scalar) as a finite float >= 0."""
    try:
        number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else None
    except (OverflowError, ValueError):  # 10**400, or a Fraction too large for a float
        number = None
    if number is None or not np.isfinite(number) or number < 0:
        raise InputError(f"{name} must be a finite number >= 0, got {_short(value)}")
    return number


def bounded_int(value, name: str, limit: int) -> int:
    """A positive integer no larger than `limit` (threads, grid columns: counts that size allocations)."""
    value = positive_int(value, name)
    if value > limit:
        raise InputError(f"{name} must be at most {limit}, got {value}")
    return value


def check_memory(need_bytes: int, what: str) -> None:
    """Refuse work whose results alone would take more than half of this machine's memory."""
    if need_bytes > MEMORY_BYTES // 2:
        raise InputError(
            f"{what} need {need_bytes / 2**30:.1f} GiB, more than half of this machine's {MEMORY_BYTES / 2**30:.0f} GiB"
        )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def seed_value(seed):
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InputError(f"seed must be a non-negative integer or None, got {_short(seed)}")
    return int(seed)


def as_numeric(x, name: str) -> np.ndarray:
    """Any array-like of real numbers as an array; ragged, text or object input is an InputError."""
    return _numeric(x, name)


def _numeric(x, name: str) -> np.ndarray:
    if x is None or isinstance(x, (str, bytes)):
        raise InputError(f"{name} must be an array of numbers, got {type(x).__name__}")
    try:
        array = np.asarray(x)
    except Exception as exc:  # ragged lists and exotic objects
        raise InputError(f"{name} is not an array ({str(exc).splitlines()[0][:120]})") from None
    if array.dtype.kind not in "biuf":
        raise InputError(f"{name} must hold real numbers, got dtype {array.dtype}")
    # before any pass over it: a zero-stride view can claim far more elements than memory holds
    check_memory(array.size * 4, f"{array.size:,} values of {name}")
    if array.dtype.kind == "f" and array.dtype.itemsize > 8:
        array = array.astype(np.float64)
    return array
