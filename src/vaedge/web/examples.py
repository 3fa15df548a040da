"""The held-out images a site keeps, as thumbnails for "What the encoder says" and points of the class
clusters: `examples.bin` (uint8 (N, H, W, C), row-major) whose sha256 the page checks, described in
vaedge-site.json with the labels and class names.

They come from `vaedge web --data D` (D's test split, labelled when it has labels), else from the
bundle's own parity.npz (hash-checked against the manifest; unlabelled).
"""

from __future__ import annotations

import hashlib

import numpy as np

from vaedge.errors import BundleError
from vaedge.explain.held_out import UNLABELLED, HeldOut
from vaedge.io.arrays import npz_arrays
from vaedge.io.files import describe
from vaedge.runtime.manifest import read_file
from vaedge.runtime.parity import MAX_REFERENCE_BYTES

FILE = "examples.bin"


def bundle_held_out(manifest, limit: int) -> HeldOut | None:
    """The first `limit` images of the bundle's parity.npz (unlabelled), or None when it has none."""
    file = next((f for f in manifest.files if f.role == "parity"), None)
    if file is None:
        return None
    name = describe(manifest.path(file))
    images = npz_arrays(
        read_file(manifest, file), name, ["images"], limit=limit, max_bytes=MAX_REFERENCE_BYTES, error=BundleError
    ).get("images")
    if images is None:
        return None
    if (
        images.shape[1:] != tuple(manifest.image_shape)
        or not np.isfinite(images).all()
        or images.min() < 0
        or images.max() > 1
    ):
        raise BundleError(
            f"{name}: images are {images.dtype} {images.shape}, expected floats in [0, 1] "
            f"shaped (N, {', '.join(map(str, manifest.image_shape))})"
        )
    return HeldOut(np.rint(images * 255).astype(np.uint8), None, (), "the bundle's parity.npz (unlabelled)")


def site_examples(held_out: HeldOut) -> tuple[bytes, dict]:
    """(examples.bin's bytes, its entry in vaedge-site.json)."""
    data = np.ascontiguousarray(held_out.images, np.uint8).tobytes()
    entry = {
        "path": FILE,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "shape": list(held_out.images.shape),
        "dtype": "uint8",
        "labels": None if held_out.labels is None else [int(k) for k in held_out.labels],
        "class_names": list(held_out.class_names),
        "unlabelled": UNLABELLED,
        "source": held_out.source.rstrip("/").rsplit("/", 1)[-1],  # a name, not this machine's path
    }
    return data, entry
