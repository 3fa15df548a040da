"""The bundle manifest `vaedge.json`: read it, refuse anything unsafe, verify every file's hash.

The manifest is the single source of truth for later stages: image shape, latent dim, the files
with their roles, precisions, tensor names and sha256. Nothing is read from a model file before the
manifest has been parsed and the file's path has been proven to stay inside the bundle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from vaedge.errors import BundleError

MANIFEST = "vaedge.json"
FORMAT = "vaedge-bundle"
FORMAT_VERSION = 1
MAX_MANIFEST_BYTES = 1 << 20
ROLES = ("encoder", "decoder", "parity")
FORMATS = ("onnx", "tflite", "npz")
PRECISIONS = ("fp32", "fp16", "int8")
SAMPLING_FORMULA = "z = z_mean + exp(0.5 * z_log_var) * eps"


@dataclass(frozen=True)
class ModelFile:
    """One file of the bundle, as the manifest describes it."""

    path: str
    role: str
    format: str
    precision: str
    sha256: str
    size: int
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


@dataclass
class Manifest:
    root: Path
    raw: dict
    files: list[ModelFile]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.raw["image"]["shape"])

    @property
    def latent_dim(self) -> int:
        return int(self.raw["latent_dim"])

    def find(self, role: str, format: str, precision: str) -> ModelFile:
        for f in self.files:
            if (f.role, f.format, f.precision) == (role, format, precision):
                return f
        have = sorted({f.precision for f in self.files if f.role == role and f.format == format})
        raise BundleError(
            f"{self.root / MANIFEST}: no {precision} {format} {role} (has: {', '.join(have) or 'none'})"
        )

    def path(self, file: ModelFile) -> Path:
        return self.root / file.path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_member(root: Path, name: object, where: str) -> Path:
    """`root/name` if `name` is a plain relative path that stays inside `root`, else BundleError."""
    if not isinstance(name, str) or not name or "\\" in name or "\x00" in name:
        raise BundleError(f"{where}: file name {name!r} is not a plain relative path")
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or name.startswith("~"):
        raise BundleError(f"{where}: file {name!r} points outside the bundle")
    path = root / pure
    try:
        resolved = path.resolve(strict=False)
        inside = resolved.is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        raise BundleError(f"{where}: file {name!r} resolves outside the bundle (symlink?)")
    return path


def manifest_digest(raw: dict) -> str:
    """sha256 of the manifest's canonical JSON without its own `manifest_sha256` field."""
    body = {k: v for k, v in raw.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_manifest(bundle: Path) -> Manifest:
    """Parse and schema-check `bundle/vaedge.json`; raise BundleError listing every problem."""
    root = Path(bundle)
    path = root / MANIFEST
    if not root.is_dir():
        raise BundleError(f"{root}: not a bundle directory")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BundleError(f"{path}: missing; is {root} a vaedge bundle?") from None
    if size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{path}: {size} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have")
    try:
        raw = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from None
    problems = []
    if isinstance(raw, dict) and raw.get("manifest_sha256") != manifest_digest(raw):  # before any defaults are filled
        problems.append(f"manifest_sha256 {raw.get('manifest_sha256')!r} does not match its content "
                        f"(sha256 {manifest_digest(raw)}): edited or corrupted")
    problems += _schema_problems(raw)
    if problems:
        raise BundleError(f"{path}: " + "; ".join(problems))
    files = []
    for entry in raw["files"]:
        safe_member(root, entry["path"], str(path))
        known = {k: entry[k] for k in ("path", "role", "format", "precision", "sha256", "size", "inputs", "outputs")}
        files.append(ModelFile(**known, extra={k: v for k, v in entry.items() if k not in known}))
    names = [f.path for f in files]
    if len(set(names)) != len(names):
        raise BundleError(f"{path}: a file is listed twice")
    return Manifest(root, raw, files)


def _schema_problems(raw) -> list[str]:
    if not isinstance(raw, dict):
        return ["expected a JSON object"]
    problems = []
    if raw.get("format") != FORMAT:
        problems.append(f"format is {raw.get('format')!r}, expected {FORMAT!r}")
    if raw.get("format_version") != FORMAT_VERSION:
        problems.append(f"format_version {raw.get('format_version')!r} is not supported (this vaedge reads {FORMAT_VERSION})")
    image = raw.get("image")
    shape = image.get("shape") if isinstance(image, dict) else None
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(s, int) and s > 0 for s in shape)):
        problems.append(f"image.shape must be [H, W, C] of positive ints, got {shape!r}")
    latent = raw.get("latent_dim")
    if not (isinstance(latent, int) and latent > 0):
        problems.append(f"latent_dim must be a positive int, got {latent!r}")
    files = raw.get("files")
    if not isinstance(files, list) or not files:
        return problems + ["files must be a non-empty list"]
    for i, entry in enumerate(files):
        if not isinstance(entry, dict):
            problems.append(f"files[{i}] is not an object")
            continue
        for key, allowed in (("role", ROLES), ("format", FORMATS), ("precision", PRECISIONS)):
            if entry.get(key) not in allowed:
                problems.append(f"files[{i}].{key} is {entry.get(key)!r}, expected one of {allowed}")
        sha = entry.get("sha256")
        if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
            problems.append(f"files[{i}].sha256 is not a sha256 hex digest")
        if not (isinstance(entry.get("size"), int) and entry["size"] >= 0):
            problems.append(f"files[{i}].size must be a non-negative int")
        if "path" not in entry:
            problems.append(f"files[{i}] has no path")
        for key in ("inputs", "outputs"):
            if not isinstance(entry.get(key, []), list):
                problems.append(f"files[{i}].{key} must be a list")
            entry.setdefault(key, [])
    return problems


def verify_files(manifest: Manifest, only: list[ModelFile] | None = None) -> list[str]:
    """Check size and sha256 of each file (all by default); return one line per problem."""
    problems = []
    for f in only if only is not None else manifest.files:
        path = manifest.path(f)
        if path.is_symlink():
            problems.append(f"{path}: is a symlink; bundle files must be regular files")
        elif not path.is_file():
            problems.append(f"{path}: missing")
        elif path.stat().st_size != f.size:
            problems.append(f"{path}: size {path.stat().st_size}, manifest says {f.size}")
        else:
            actual = sha256_of(path)
            if actual != f.sha256:
                problems.append(f"{path}: sha256 {actual}, manifest says {f.sha256}")
    return problems


def unlisted_files(manifest: Manifest) -> list[str]:
    """Files in the bundle directory that the manifest does not list (hidden files included)."""
    listed = {MANIFEST, *(f.path for f in manifest.files)}
    return sorted(str(p.relative_to(manifest.root)) for p in manifest.root.rglob("*")
                  if not p.is_dir() and str(p.relative_to(manifest.root)) not in listed)


def check_files(manifest: Manifest, only: list[ModelFile] | None = None) -> None:
    """Raise BundleError naming every file whose size or hash differs from the manifest."""
    problems = verify_files(manifest, only)
    if problems:
        raise BundleError("bundle files do not match the manifest: " + "; ".join(problems))


def file_entry(root: Path, name: str, **fields) -> dict:
    """A manifest entry for `root/name` with its sha256 and size filled in."""
    path = root / name
    return {"path": name, **fields, "sha256": sha256_of(path), "size": path.stat().st_size}
