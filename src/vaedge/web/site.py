"""`vaedge web`: a static site that samples, decodes, encodes and reconstructs in the browser.

The site holds the page (static/: vaedge.js, the window.vaedge API; app.js, the page), the bundle's
encoder and decoder ONNX graphs copied from bytes whose sha256 was checked against the manifest,
`vaedge-site.json` (what the page needs from the manifest, and which latent dims the held-out images
use; also the marker by which `--force` knows the directory is vaedge's) and, with `ort_web`,
the onnxruntime-web files, so the page fetches nothing from the network. Without it the page loads
onnxruntime-web from a CDN, every file checked by its subresource-integrity hash.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from vaedge.errors import BundleError, InputError
from vaedge.io import atomic
from vaedge.io.arrays import npz_arrays
from vaedge.io.files import describe, read_marker
from vaedge.runtime.backends import open_bundle_file
from vaedge.runtime.manifest import PRECISIONS, read_file, read_manifest, unlisted_files
from vaedge.runtime.parity import MAX_REFERENCE_BYTES
from vaedge.web import ort
from vaedge.web.examples import bundle_held_out, site_examples

MARKER = "vaedge-site.json"
FORMAT = "vaedge-site"
FORMAT_VERSION = 1
ORT_DIR = "ort"
PAGE = ("index.html", "vaedge.js", "app.js", "explain.js", "style.css")
ORT_SLOT = "<!-- vaedge:ort -->"
MAX_Z_MEAN = 1e6  # a latent mean this far from the prior is a forged file, and its variance overflows


def is_site(path: Path) -> bool:
    """True if `path` holds a vaedge-site.json that says it is a site vaedge made."""
    raw = read_marker(path, MARKER)
    return raw is not None and raw.get("format") == FORMAT


def build_site(
    bundle: Path,
    out: Path,
    ort_web: Path | None = None,
    precisions=("fp32",),
    force: bool = False,
    held_out=None,
    examples: int = 64,
) -> Path:
    """Verify `bundle` and write the site to `out` atomically; return `out`.

    precisions: the ONNX variants to copy (the first is the page's default); each needs an encoder
    and a decoder with float32 inputs and outputs (`image` (N, H, W, C), `z` / `z_mean` / `z_log_var` (N, D)).
    held_out: a vaedge.explain.held_out.HeldOut whose images the page shows (default: the first
    `examples` of the bundle's parity.npz, unlabelled).
    """
    precisions = list(dict.fromkeys(precisions or ["fp32"]))
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        raise InputError(f"--precision {', '.join(unknown)}: expected one of {', '.join(PRECISIONS)}")
    atomic.check_directory_target(out, force, is_site, "site", sources=(bundle,))
    manifest = read_manifest(bundle)
    extra = unlisted_files(manifest)
    if extra:
        raise BundleError(f"{describe(manifest.root)}: files not listed in the manifest: {', '.join(extra)}")
    models, files, problems = {}, {}, []
    for precision in precisions:
        for role in ("encoder", "decoder"):
            try:
                entry = manifest.find(role, "onnx", precision)
            except BundleError as exc:  # no such variant in the bundle
                problems.append(str(exc))
                continue
            odd = [
                f"{t['name']} is {t.get('dtype')}"
                for t in entry.inputs + entry.outputs
                if t.get("dtype", "float32") != "float32"
            ]
            if odd:
                problems.append(f"{entry.path}: the page feeds and reads float32 tensors, but {', '.join(odd)}")
                continue
            data = read_file(manifest, entry)  # the bytes whose sha256 matched: what we copy
            try:  # the runtime's own checks: operators, external data, real tensors against the manifest
                open_bundle_file(manifest, entry, {entry.path: data})
            except BundleError as exc:
                problems.append(str(exc))
                continue
            files[entry.path] = data
            models.setdefault(precision, {})[role] = {"path": entry.path, "sha256": entry.sha256, "size": entry.size}
    try:
        latents = latent_activity(manifest)
    except BundleError as exc:
        problems.append(str(exc))
    try:
        held_out = held_out if held_out is not None else bundle_held_out(manifest, examples)
    except BundleError as exc:
        problems.append(str(exc))
    if problems:
        raise InputError(f"{describe(bundle)}: cannot make a site: " + "; ".join(problems))
    shown = site_examples(held_out) if held_out is not None else None
    runtime = _ort_files(ort_web)
    marker = site_description(
        manifest,
        models,
        precisions[0],
        latents,
        local=ort_web is not None,
        version=ort.package_version(ort_web) if ort_web is not None else ort.VERSION,
    )
    if shown is not None:
        marker["examples"] = shown[1]
    with atomic.staged_directory(out, replace=force, owned=is_site, what="site", sources=(bundle,)) as stage:
        for name in PAGE:
            atomic.write_bytes(stage / name, _page_file(name, ort_web is not None))
        for name, data in files.items():
            atomic.write_bytes(stage / name, data)
        for name, data in runtime.items():
            atomic.write_bytes(stage / ORT_DIR / name, data)
        if shown is not None:
            atomic.write_bytes(stage / shown[1]["path"], shown[0])
        atomic.write_json(stage / MARKER, marker, refuse_non_finite=True)
    return Path(out)


def latent_activity(manifest) -> dict:
    """Which latent dims the data uses, for the page's map and sliders: the variance over the
    bundle's held-out images (parity.npz) of each dim's `z_mean` (N, D); dims the model leaves at
    the prior have a z_mean near 0 for every image. `order` lists dims by that variance, largest first
    (0..D-1 when the bundle holds no reference)."""
    dims = manifest.latent_dim
    file = next((f for f in manifest.files if f.role == "parity"), None)
    if file is None:
        return {"order": list(range(dims)), "z_mean_variance": None, "images": 0}
    name = describe(manifest.path(file))
    z_mean = npz_arrays(
        read_file(manifest, file), name, ["z_mean"], max_bytes=MAX_REFERENCE_BYTES, error=BundleError
    ).get("z_mean")
    if (
        z_mean is None
        or z_mean.ndim != 2
        or z_mean.shape[1] != dims
        or len(z_mean) < 2
        or not np.isfinite(z_mean).all()
    ):
        shape = "missing" if z_mean is None else f"shape {z_mean.shape}"
        raise BundleError(f"{name}: z_mean is {shape}, expected finite (N >= 2, {dims})")
    if np.abs(z_mean).max() > MAX_Z_MEAN:
        raise BundleError(f"{name}: z_mean holds values beyond +-{MAX_Z_MEAN:g}; not a reference this model made")
    variance = z_mean.astype(np.float64).var(axis=0)
    order = sorted(range(dims), key=lambda j: (-variance[j], j))
    return {"order": order, "z_mean_variance": [round(float(v), 6) for v in variance], "images": len(z_mean)}


def _ort_files(ort_web: Path | None) -> dict[str, bytes]:
    return {} if ort_web is None else ort.read_dist(ort_web)


def site_description(manifest, models: dict, default: str, latents: dict, local: bool, version: str | None) -> dict:
    """The marker's content: what the page reads before loading anything else."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "image": {"shape": list(manifest.image_shape), "layout": "NHWC", "range": [0.0, 1.0]},
        "latent_dim": manifest.latent_dim,
        "latents": latents,
        "latent_map": {"span": manifest.map_span},  # the same range as vaedge explain, manifold and clusters
        "sampling": {
            "formula": manifest.sampling_formula,
            "prior": "N(0, I)",
            "page": "z = temperature * eps, eps from the portable stream (docs/eps-stream.md), as in vaedge generate",
        },
        "models": models,
        "default_precision": default,
        "tensors": {
            "encoder": {"inputs": ["image"], "outputs": ["z_mean", "z_log_var"]},
            "decoder": {"inputs": ["z"], "outputs": ["image"]},
        },
        "onnxruntime_web": {
            "version": version,
            "source": "site" if local else "cdn",
            "base": f"{ORT_DIR}/" if local else ort.CDN,
            "integrity": {} if local else dict(ort.SRI),
        },
        "bundle": {
            "manifest_sha256": manifest.raw.get("manifest_sha256"),
            "producer": manifest.raw.get("producer", {}),
        },
    }


def _page_file(name: str, local: bool) -> bytes:
    data = resources.files("vaedge.web").joinpath("static", name).read_bytes()
    if name != "index.html":
        return data
    if local:
        tag = f'<script src="{ORT_DIR}/{ort.SCRIPT}"></script>'
    else:
        tag = f'<script src="{ort.CDN}{ort.SCRIPT}" integrity="{ort.SRI[ort.SCRIPT]}" crossorigin="anonymous"></script>'
    return data.replace(ORT_SLOT.encode(), tag.encode())
