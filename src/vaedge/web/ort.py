"""The onnxruntime-web files a site needs, pinned by version and subresource-integrity hash.

The page loads `ort.wasm.min.js` (the WebAssembly-only build), which imports
`ort-wasm-simd-threaded.mjs` and fetches `ort-wasm-simd-threaded.wasm`. `SRI` holds their sha384
for onnxruntime-web 1.30.0 as published on npm, computed once with
    npm install onnxruntime-web@1.30.0
    openssl dgst -sha384 -binary node_modules/onnxruntime-web/dist/FILE | base64
(`tests/web/test_site.py` recomputes them from an installed package when there is one).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from vaedge.errors import InputError
from vaedge.io.files import MiB, describe, read_regular

VERSION = "1.30.0"
CDN = f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{VERSION}/dist/"
SCRIPT, MODULE, WASM = "ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"
FILES = (SCRIPT, MODULE, WASM)
SRI = {
    SCRIPT: "sha384-Bw6URI+Gvoadw0do7/QrSHUC9D1vCYYK5OSqChFyhyV5mzPL4oe2rOAFljAnS8Sq",
    MODULE: "sha384-XcXA/MtAf0WpB8e023xQH9CM7RIjiugakT7x99DIwpFf7k56BIFFcAPerIF7FDad",
    WASM: "sha384-vjBJ1z7qrhkTyYsNqKeF6c7N+nOJSU94czEo+tvZcu8G75JparGq9kB+kTnEUNVM",
}
MAX_BYTES = 64 * MiB  # the .wasm is 14 MB


def sri(data: bytes) -> str:
    """The subresource-integrity string (`sha384-<base64>`) of `data`."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def package_version(dist: Path) -> str | None:
    """The version in `dist/../package.json`, or None when there is no readable one."""
    try:
        raw = json.loads(read_regular(Path(dist).parent / "package.json", MiB, InputError))
    except (InputError, ValueError):
        return None
    return raw.get("version") if isinstance(raw, dict) and isinstance(raw.get("version"), str) else None


def read_dist(dist: Path) -> dict[str, bytes]:
    """{file name: bytes} of the files a site needs from an onnxruntime-web `dist/` folder;
    InputError names every one that is missing or unreadable."""
    dist = Path(dist)
    if not dist.is_dir():
        raise InputError(
            f"{describe(dist)}: not a directory; --ort-web wants the dist/ folder of an "
            f"onnxruntime-web install (npm install onnxruntime-web@{VERSION})"
        )
    files, problems = {}, []
    for name in FILES:
        try:
            files[name] = read_regular(dist / name, MAX_BYTES, InputError)
        except InputError as exc:
            problems.append(str(exc))
    if problems:
        raise InputError(f"{describe(dist)}: not an onnxruntime-web dist/ folder: " + "; ".join(problems))
    return files
