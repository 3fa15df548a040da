"""`vaedge web`: a static site that samples, decodes, encodes and reconstructs in the browser.

The site holds the page (static/), the bundle's encoder and decoder ONNX graphs copied from bytes
whose sha256 was checked against the manifest, `vaedge-site.json` (what the page needs from the
manifest; also the marker by which `--force` knows the directory is vaedge's) and, with `ort_web`,
the onnxruntime-web files, so the page fetches nothing from the network. Without it the page loads
onnxruntime-web from a CDN, every file checked by its subresource-integrity hash.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from vaedge.errors import BundleError, InputError
from vaedge.io import atomic
from vaedge.io.files import MiB, read_regular
from vaedge.runtime.manifest import PRECISIONS, read_file, read_manifest
from vaedge.web import ort

MARKER = "vaedge-site.json"
FORMAT = "vaedge-site"
FORMAT_VERSION = 1
ORT_DIR = "ort"
PAGE = ("index.html", "app.js", "style.css")
ORT_SLOT = "<!-- vaedge:ort -->"


def is_site(path: Path) -> bool:
    """True if `path` holds a vaedge-site.json that says it is a site vaedge made."""
    try:
        raw = json.loads(read_regular(Path(path) / MARKER, MiB, InputError, follow_symlinks=False))
    except (InputError, ValueError, RecursionError):
        return False
    return isinstance(raw, dict) and raw.get("format") == FORMAT


def build_site(bundle: Path, out: Path, ort_web: Path | None = None, precisions=("fp32",),
               force: bool = False) -> Path:
    """Verify `bundle` and write the site to `out` atomically; return `out`.

    precisions: the ONNX variants to copy (the first is the page's default); each needs an encoder
    and a decoder with float32 inputs and outputs (`image` (N, H, W, C), `z` / `z_mean` / `z_log_var` (N, D)).
    """
    precisions = list(dict.fromkeys(precisions or ["fp32"]))
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        raise InputError(f"--precision {', '.join(unknown)}: expected one of {', '.join(PRECISIONS)}")
    manifest = read_manifest(bundle)
    models, files, problems = {}, {}, []
    for precision in precisions:
        for role in ("encoder", "decoder"):
            try:
                entry = manifest.find(role, "onnx", precision)
            except BundleError as exc:  # no such variant in the bundle
                problems.append(str(exc))
                continue
            odd = [f"{t['name']} is {t.get('dtype')}" for t in entry.inputs + entry.outputs
                   if t.get("dtype", "float32") != "float32"]
            if odd:
                problems.append(f"{entry.path}: the page feeds and reads float32 tensors, but {', '.join(odd)}")
                continue
            files[entry.path] = read_file(manifest, entry)  # the bytes whose sha256 matched: what we copy
            models.setdefault(precision, {})[role] = {"path": entry.path, "sha256": entry.sha256, "size": entry.size}
    if problems:
        raise InputError(f"{bundle}: cannot make a site: " + "; ".join(problems))
    runtime = _ort_files(ort_web)
    marker = site_description(manifest, models, precisions[0], local=ort_web is not None,
                              version=ort.package_version(ort_web) if ort_web is not None else ort.VERSION)
    with atomic.staged_directory(out, replace=force, owned=is_site, what="site") as stage:
        for name in PAGE:
            atomic.write_bytes(stage / name, _page_file(name, ort_web is not None))
        for name, data in files.items():
            atomic.write_bytes(stage / name, data)
        for name, data in runtime.items():
            atomic.write_bytes(stage / ORT_DIR / name, data)
        atomic.write_json(stage / MARKER, marker)
    return Path(out)


def _ort_files(ort_web: Path | None) -> dict[str, bytes]:
    return {} if ort_web is None else ort.read_dist(ort_web)


def site_description(manifest, models: dict, default: str, local: bool, version: str | None) -> dict:
    """The marker's content: what the page reads before loading anything else."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "image": {"shape": list(manifest.image_shape), "layout": "NHWC", "range": [0.0, 1.0]},
        "latent_dim": manifest.latent_dim,
        "sampling": {"formula": manifest.sampling_formula, "prior": "N(0, I)",
                     "page": "z = temperature * eps, eps from a seeded generator in JavaScript"},
        "models": models,
        "default_precision": default,
        "tensors": {"encoder": {"inputs": ["image"], "outputs": ["z_mean", "z_log_var"]},
                    "decoder": {"inputs": ["z"], "outputs": ["image"]}},
        "onnxruntime_web": {"version": version, "source": "site" if local else "cdn",
                            "base": f"{ORT_DIR}/" if local else ort.CDN,
                            "integrity": {} if local else dict(ort.SRI)},
        "bundle": {"manifest_sha256": manifest.raw.get("manifest_sha256"), "producer": manifest.raw.get("producer", {})},
    }


def _page_file(name: str, local: bool) -> bytes:
    data = resources.files("vaedge.web").joinpath("static", name).read_bytes()
    if name != "index.html":
        return data
    if local:
        tag = f'<script src="{ORT_DIR}/{ort.SCRIPT}"></script>'
    else:
        tag = (f'<script src="{ort.CDN}{ort.SCRIPT}" integrity="{ort.SRI[ort.SCRIPT]}" '
               'crossorigin="anonymous"></script>')
    return data.replace(ORT_SLOT.encode(), tag.encode())
