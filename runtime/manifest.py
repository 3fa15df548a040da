"""The bundle schema: `vaedge.json` written (by `vaedge export`) and read (by the runtime) here alone.

The manifest is the single source of truth for later stages: image shape, latent dim, the files
with their roles, precisions, tensor names, shapes and sha256. Reading it trusts nothing: it must
be a regular file (no symlink), within a size budget, and match a strict schema (types, ranges,
plain file names, tensor names and shapes that agree with the image shape and latent dim) before
any model file is touched. Model files are then read once, hashed as read, and those very bytes
are what the backends load.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vaedge.errors import BundleError
from vaedge.io.files import MiB, describe, parse_json, read_marker, read_regular

MANIFEST = "vaedge.json"
SIGNATURE = "vaedge.sig"  # written by `vaedge sign` / `export --sign-key`, outside the manifest it signs
FORMAT = "vaedge-bundle"
FORMAT_VERSION = 1
MAX_MANIFEST_BYTES = 1 * MiB
MAX_FILE_BYTES = 512 * MiB  # one graph or reference file
MAX_FILES = 64
MAX_SIDE, MAX_LATENT = 4096, 4096
ROLES = ("encoder", "decoder", "parity", "operators")  # operators: what an onnxruntime minimal build needs
FORMATS = ("onnx", "tflite", "npz", "ort", "config")  # ort: an ONNX graph in onnxruntime's own format
PRECISIONS = ("fp32", "fp16", "int8")
DTYPES = ("float32", "int8", "uint8", "int64")
SAMPLING_FORMULA = "z = z_mean + exp(0.5 * z_log_var) * eps"
TENSORS = {"encoder": (["image"], ["z_mean", "z_log_var"]), "decoder": (["z"], ["image"])}
BATCH = "N"
READERS = 4  # threads a bundle's files are read and hashed with, at most
CHUNK = 256  # images per engine call in the runtime: bounded memory whatever n is
FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
TFLITE_FIELDS = ("ops", "xnnpack", "gpu_compatible", "gpu_warnings", "quantization")  # delegate readiness, int8 I/O
PRIOR_SPAN = 3.0  # the latent map's half-side for a bundle that records none: the prior's [-3, 3]
MAX_SPAN = 1000.0


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

    @property
    def batch(self) -> int | None:
        """The fixed batch of the graph's first input, or None for a dynamic batch."""
        first = self.inputs[0]["shape"][0] if self.inputs else BATCH
        return first if isinstance(first, int) else None

    @property
    def quantization(self) -> dict:
        """{tensor name: {"scale", "zero_point"}} of the int8 inputs/outputs ({} when all are float32)."""
        return self.extra.get("quantization", {})


@dataclass(frozen=True)
class MicroGraph:
    """One graph TensorFlow Lite Micro ran at export: what a board needs to run it, and what it costs."""

    role: str
    file: str  # a tflite file of the bundle, batch 1, int8 inputs and outputs
    ops: list  # its builtin ops in execution order, each one TFLM's resolver has
    arena_bytes: int  # the smallest tensor arena TFLM runs it in, found by bisection
    flash_bytes: int  # the file's size: the flatbuffer runs in place from flash
    litert_max_lsb: int  # TFLM vs LiteRT on the same file and the same int8 inputs
    psnr_db: float  # TFLM's output vs Keras (encoders: their z_mean through the fp32 decoder)
    iwae_vs_fp32: float  # IWAE -log p(x) with this graph minus with fp32, nats per held-out image

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "role"}


def micro_section(graphs: list[MicroGraph], runtime: str) -> dict:
    """The manifest's `micro` section: the TFLM build that measured, and one entry per role."""
    return {"runtime": runtime, "graphs": {g.role: g.as_dict() for g in graphs}}


@dataclass
class Manifest:
    """A parsed, schema-checked manifest: typed accessors for everything later stages read."""

    root: Path
    raw: dict
    files: list[ModelFile]
    data: bytes = b""  # the manifest's bytes as read: what a signature is checked against

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.raw["image"]["shape"])

    @property
    def latent_dim(self) -> int:
        return int(self.raw["latent_dim"])

    @property
    def sampling_formula(self) -> str:
        return self.raw.get("sampling", {}).get("formula", SAMPLING_FORMULA)

    @property
    def metrics(self) -> dict:
        return self.raw.get("metrics") or {}

    @property
    def validation(self) -> dict:
        return self.raw.get("validation") or {}

    @property
    def micro(self) -> dict[str, MicroGraph]:
        """{role: MicroGraph} of the graphs TFLM ran at export (`vaedge export --micro`); {} without."""
        graphs = (self.raw.get("micro") or {}).get("graphs", {})
        return {role: MicroGraph(role=role, **fields) for role, fields in graphs.items()}

    @property
    def map_span(self) -> float:
        """Half the side of the latent map in z units: [-span, span] on both axes, chosen at export from the
        held-out images' z_mean (`latent_map`); PRIOR_SPAN for a bundle exported before that was recorded."""
        return float((self.raw.get("latent_map") or {}).get("span", PRIOR_SPAN))

    def flops_per_image(self, role: str) -> int:
        """FLOPs of one image through the role's graph, as counted at export (0 if not recorded)."""
        return int(self.raw.get("flops_per_image", {}).get(role, 0))

    def find(self, role: str, format: str, precision: str) -> ModelFile:
        found = self.find_all(role, format, precision)
        if found:
            return found[0]
        have = sorted({f.precision for f in self.files if f.role == role and f.format == format})
        raise BundleError(f"{self.root / MANIFEST}: no {precision} {format} {role} (has: {', '.join(have) or 'none'})")

    def find_all(self, role: str, format: str, precision: str) -> list[ModelFile]:
        """Every file of this role, format and precision (several for fixed-batch TFLite graphs)."""
        return [f for f in self.files if (f.role, f.format, f.precision) == (role, format, precision)]

    def path(self, file: ModelFile) -> Path:
        return self.root / file.path


# ---------------------------------------------------------------------------------- writing
def tensor_specs(role: str, image_shape, latent_dim: int, batch: int | str = BATCH) -> tuple[list, list]:
    """Manifest `inputs`/`outputs` of an encoder or decoder graph: names, shapes (batch first), dtypes."""
    image = {"name": "image", "shape": [batch, *image_shape], "dtype": "float32"}
    latent = {"shape": [batch, latent_dim], "dtype": "float32"}
    if role == "encoder":
        return [image], [{"name": "z_mean", **latent}, {"name": "z_log_var", **latent}]
    return [{"name": "z", **latent}], [image]


def file_entry(root: Path, name: str, data: bytes | None = None, **fields) -> dict:
    """A manifest entry for `root/name` (whose bytes are `data`, read now if not given) with its sha256
    and size filled in."""
    data = (Path(root) / name).read_bytes() if data is None else data
    return {"path": name, **fields, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def build_manifest(image_shape, latent_dim: int, files: list[dict], **sections) -> dict:
    """The whole manifest: format, image, latent dim, host sampling, files, then `sections` as given
    (producer, source, metrics, configs, validation, ...), sealed with its own sha256."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "image": {"shape": list(image_shape), "layout": "NHWC", "dtype": "float32", "range": [0.0, 1.0]},
        "latent_dim": int(latent_dim),
        "sampling": {
            "formula": SAMPLING_FORMULA,
            "eps": "N(0, I), drawn on the host",
            "prior": "N(0, I)",
            "in_graph": False,
        },
        "files": files,
        **sections,
    }
    return {**manifest, "manifest_sha256": manifest_digest(manifest)}


def runtime_section() -> dict:
    """How the runtime runs the graphs, recorded in the manifest for whoever deploys them."""
    return {
        "onnxruntime": {
            "graph_optimization_level": "ORT_ENABLE_ALL",
            "intra_op_num_threads": "all cores",
            "sessions": "one per model, reused",
        },
        "chunk": CHUNK,
        "default_precision": "fp32",
    }


def manifest_digest(raw: dict) -> str:
    """sha256 of the manifest's canonical JSON without its own `manifest_sha256` field."""
    body = {k: v for k, v in raw.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------------------------- reading
def is_bundle(path: Path) -> bool:
    """True if `path` holds a vaedge.json that says it is a vaedge bundle (what --force may replace)."""
    raw = read_marker(path, MANIFEST, MAX_MANIFEST_BYTES)
    return raw is not None and raw.get("format") == FORMAT


def read_manifest(bundle: Path) -> Manifest:
    """Parse and schema-check `bundle/vaedge.json`; raise BundleError listing every problem."""
    root = Path(bundle)
    path = root / MANIFEST
    if not root.is_dir():
        raise BundleError(f"{describe(root)}: not a bundle directory")
    if not path.exists() and not path.is_symlink():
        raise BundleError(f"{describe(path)}: missing; is {describe(root)} a vaedge bundle?")
    data = read_regular(path, MAX_MANIFEST_BYTES, BundleError, follow_symlinks=False)
    raw = parse_json(data, path, BundleError)
    return parse_manifest(root, raw, data)


def parse_manifest(root: Path, raw, data: bytes | None = None) -> Manifest:
    """A Manifest for the bundle directory `root` from its parsed JSON `raw` (e.g. one built in memory by
    export); raise BundleError listing every problem."""
    path = Path(root) / MANIFEST
    data = json.dumps(raw).encode() if data is None else data
    problems = []
    if isinstance(raw, dict) and raw.get("manifest_sha256") != manifest_digest(raw):
        problems.append(
            f"manifest_sha256 {describe(str(raw.get('manifest_sha256')))[:80]} does not match its "
            f"content (sha256 {manifest_digest(raw)}): edited or corrupted"
        )
    problems += schema_problems(raw)
    if problems:
        raise BundleError(f"{describe(path)}: " + "; ".join(problems))
    files = [
        ModelFile(
            **{k: e[k] for k in ("path", "role", "format", "precision", "sha256", "size")},
            inputs=e.get("inputs", []),
            outputs=e.get("outputs", []),
            extra={k: v for k, v in e.items() if k not in ModelFile.__dataclass_fields__},
        )
        for e in raw["files"]
    ]
    return Manifest(Path(root), raw, files, data)


def _int(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def schema_problems(raw) -> list[str]:
    """Every way `raw` differs from the bundle schema (an empty list when it conforms)."""
    if not isinstance(raw, dict):
        return ["expected a JSON object"]
    problems = []
    if raw.get("format") != FORMAT:
        problems.append(f"format is {_show(raw.get('format'))}, expected {FORMAT!r}")
    if raw.get("format_version") != FORMAT_VERSION or isinstance(raw.get("format_version"), bool):
        problems.append(
            f"format_version {_show(raw.get('format_version'))} is not supported (this vaedge reads {FORMAT_VERSION})"
        )
    image = raw.get("image")
    shape = image.get("shape") if isinstance(image, dict) else None
    shape_ok = (
        isinstance(shape, list)
        and len(shape) == 3
        and all(_int(s, 1, MAX_SIDE) for s in shape[:2])
        and _int(shape[2], 1, 4)
    )
    if not shape_ok:
        problems.append(f"image.shape must be [H, W, C] with H, W in 1..{MAX_SIDE} and C in 1..4, got {_show(shape)}")
    latent = raw.get("latent_dim")
    if not _int(latent, 1, MAX_LATENT):
        problems.append(f"latent_dim must be an int in 1..{MAX_LATENT}, got {_show(latent)}")
    for key in ("metrics", "validation", "sampling", "flops_per_image", "producer", "latent_map"):
        if key in raw and not isinstance(raw[key], dict):
            problems.append(f"{key} must be an object")
    sampling = raw.get("sampling")
    if isinstance(sampling, dict) and not all(
        isinstance(v, (str, bool)) and len(str(v)) <= 200 for v in sampling.values()
    ):
        problems.append("sampling values must be strings of at most 200 characters (or true/false)")
    if isinstance(raw.get("flops_per_image"), dict) and not all(
        _int(v, 0, 1 << 50) for v in raw["flops_per_image"].values()
    ):
        problems.append("flops_per_image values must be non-negative ints")
    span = raw["latent_map"].get("span") if isinstance(raw.get("latent_map"), dict) else PRIOR_SPAN
    if not (isinstance(span, (int, float)) and not isinstance(span, bool) and 0 < span <= MAX_SPAN):
        problems.append(f"latent_map.span must be a number in (0, {MAX_SPAN:g}], got {_show(span)}")
    problems += _micro_problems(raw.get("micro"), raw.get("files"))
    files = raw.get("files")
    if not isinstance(files, list) or not 1 <= len(files) <= MAX_FILES:
        return problems + [f"files must be a list of 1..{MAX_FILES} entries"]
    seen = set()
    for i, entry in enumerate(files):
        problems += _entry_problems(
            i, entry, shape if shape_ok else None, latent if _int(latent, 1, MAX_LATENT) else None
        )
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            if entry["path"] in seen:
                problems.append(f"files[{i}]: {describe(entry['path'])} is listed twice")
            seen.add(entry["path"])
    return problems


def _entry_problems(i: int, entry, image_shape, latent_dim) -> list[str]:
    if not isinstance(entry, dict):
        return [f"files[{i}] is not an object"]
    where, problems = f"files[{i}]", []
    name = entry.get("path")
    if not (isinstance(name, str) and FILE_NAME.match(name) and name != MANIFEST):
        problems.append(f"{where}.path {_show(name)} is not a plain file name in the bundle (letters, digits, '._-')")
    for key, allowed in (("role", ROLES), ("format", FORMATS), ("precision", PRECISIONS)):
        if entry.get(key) not in allowed:
            problems.append(f"{where}.{key} is {_show(entry.get(key))}, expected one of {', '.join(allowed)}")
    sha = entry.get("sha256")
    if not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        problems.append(f"{where}.sha256 is not a sha256 hex digest")
    if not _int(entry.get("size"), 0, MAX_FILE_BYTES):
        problems.append(f"{where}.size must be an int in 0..{MAX_FILE_BYTES}, got {_show(entry.get('size'))}")
    role = entry.get("role")
    if role in TENSORS and image_shape is not None and latent_dim is not None:
        for kind, names in zip(("inputs", "outputs"), TENSORS[role]):
            problems += _tensor_problems(f"{where}.{kind}", entry.get(kind), names, role, image_shape, latent_dim)
    return problems + _delegate_problems(where, entry)


OP_NAME = re.compile(r"^[A-Z0-9_]{1,64}$")
MICRO_INTS = ("arena_bytes", "flash_bytes", "litert_max_lsb")


def _micro_problems(micro, files) -> list[str]:
    """The `micro` section: {runtime: str, graphs: {role: MicroGraph fields}}, each file a listed tflite of
    that role."""
    if micro is None:
        return []
    graphs = micro.get("graphs") if isinstance(micro, dict) else None
    if not (isinstance(graphs, dict) and isinstance(micro.get("runtime"), str) and set(graphs) <= set(TENSORS)):
        return [f"micro must be {{runtime: str, graphs: {{encoder/decoder: ...}}}}, got {_show(micro)}"]
    listed = (
        {(e.get("path"), e.get("role"), e.get("format")) for e in files if isinstance(e, dict)}
        if isinstance(files, list)
        else set()
    )
    fields = set(MicroGraph.__dataclass_fields__) - {"role"}
    problems = []
    for role, g in graphs.items():
        where = f"micro.graphs.{role}"
        if not (isinstance(g, dict) and set(g) == fields):
            problems.append(f"{where} must have exactly {sorted(fields)}, got {_show(g)}")
            continue
        if (g["file"], role, "tflite") not in listed:
            problems.append(f"{where}.file {_show(g['file'])} is not a {role} tflite file the manifest lists")
        ops = g["ops"]
        names_ok = isinstance(ops, list) and all(isinstance(o, str) and OP_NAME.match(o) for o in ops)
        if not (names_ok and 1 <= len(ops) <= 4096):
            problems.append(f"{where}.ops must be a list of op names (A-Z, 0-9, _)")
        problems += [
            f"{where}.{k} must be an int in 0..{MAX_FILE_BYTES}, got {_show(g[k])}"
            for k in MICRO_INTS
            if not _int(g[k], 0, MAX_FILE_BYTES)
        ]
        problems += [
            f"{where}.{k} must be a finite number, got {_show(g[k])}"
            for k in ("psnr_db", "iwae_vs_fp32")
            if not (isinstance(g[k], (int, float)) and not isinstance(g[k], bool) and abs(g[k]) < 1e9)
        ]
    return problems


def _delegate_problems(where: str, entry: dict) -> list[str]:
    """The TFLite fields: ops, xnnpack, gpu_compatible, gpu_warnings, and `quantization`, which int8
    inputs/outputs need ({tensor: {scale > 0, zero_point in -128..127}}, exactly the int8 tensors)."""
    problems = []
    if entry.get("format") != "tflite":
        return [f"{where}.{k} applies to tflite files only" for k in TFLITE_FIELDS if k in entry]
    ops = entry.get("ops", [])
    if not (isinstance(ops, list) and len(ops) <= 4096 and all(isinstance(o, str) and OP_NAME.match(o) for o in ops)):
        problems.append(f"{where}.ops must be a list of op names (A-Z, 0-9, _)")
    xnnpack = entry.get("xnnpack", {"partitions": 0, "whole": False})
    if not (
        isinstance(xnnpack, dict)
        and set(xnnpack) == {"partitions", "whole"}
        and _int(xnnpack["partitions"], 0, 4096)
        and isinstance(xnnpack["whole"], bool)
    ):
        problems.append(f"{where}.xnnpack must be {{partitions: int, whole: bool}}, got {_show(xnnpack)}")
    if not isinstance(entry.get("gpu_compatible", False), bool):
        problems.append(f"{where}.gpu_compatible must be true or false")
    warnings = entry.get("gpu_warnings", [])
    if not (
        isinstance(warnings, list)
        and len(warnings) <= 64
        and all(isinstance(w, str) and len(w) <= 1000 for w in warnings)
    ):
        problems.append(f"{where}.gpu_warnings must be a list of at most 64 strings")
    tensors = [
        t
        for kind in ("inputs", "outputs")
        if isinstance(entry.get(kind), list)
        for t in entry[kind]
        if isinstance(t, dict)
    ]
    int8 = sorted(str(t.get("name")) for t in tensors if t.get("dtype") == "int8")
    quantization = entry.get("quantization", {})
    if not isinstance(quantization, dict) or sorted(quantization) != int8:
        return problems + [
            f"{where}.quantization must give scale and zero point for exactly the int8 tensors {int8}, "
            f"got {_show(quantization)}"
        ]
    for name, q in quantization.items():
        ok = (
            isinstance(q, dict)
            and set(q) == {"scale", "zero_point"}
            and isinstance(q["scale"], float)
            and 0 < q["scale"] < 1e6
            and _int(q["zero_point"], -128, 127)
        )
        if not ok:
            problems.append(
                f"{where}.quantization.{name} must be {{scale: float > 0, zero_point: int in -128..127}}, "
                f"got {_show(q)}"
            )
    return problems


def _tensor_problems(where, tensors, names, role, image_shape, latent_dim) -> list[str]:
    if not isinstance(tensors, list) or not all(isinstance(t, dict) for t in tensors):
        return [f"{where} must be a list of tensor objects"]
    got = [t.get("name") for t in tensors]
    if sorted(map(str, got)) != sorted(names):
        return [f"{where} names {_show(got)}, expected {names}"]
    problems = []
    for tensor in tensors:
        expected = [*image_shape] if tensor["name"] == "image" else [latent_dim]
        shape = tensor.get("shape")
        if not (
            isinstance(shape, list)
            and len(shape) == len(expected) + 1
            and (shape[0] == BATCH or _int(shape[0], 1, 1 << 16))
            and shape[1:] == expected
        ):
            problems.append(
                f"{where} {tensor['name']}: shape {_show(shape)}, "
                f"expected [N or a batch, {', '.join(map(str, expected))}]"
            )
        if tensor.get("dtype", "float32") not in DTYPES:
            problems.append(
                f"{where} {tensor['name']}: dtype {_show(tensor.get('dtype'))} is not one of {', '.join(DTYPES)}"
            )
    return problems


def _show(value) -> str:
    """A value from the manifest, shortened and with control characters escaped, for a message."""
    text = describe(json.dumps(value) if not isinstance(value, str) else repr(value))
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------------------- files
def read_file(manifest: Manifest, file: ModelFile) -> bytes:
    """The bytes of one bundle file, read once and checked against its size and sha256."""
    path = manifest.path(file)
    if not path.exists() and not path.is_symlink():
        raise BundleError(f"{describe(path)}: missing")
    data = read_regular(manifest.path(file), max(file.size, 0), BundleError, follow_symlinks=False)
    _check_bytes(manifest, file, data)
    return data


def _check_bytes(manifest: Manifest, file: ModelFile, data: bytes) -> None:
    name = describe(manifest.path(file))
    if len(data) != file.size:
        raise BundleError(f"{name}: size {len(data)}, manifest says {file.size}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != file.sha256:
        raise BundleError(f"{name}: sha256 {actual}, manifest says {file.sha256}")


def _read_checked(manifest: Manifest, files: list[ModelFile]) -> dict[str, bytes | BundleError]:
    """{path: bytes, or the BundleError that refused them} of `files`, each read once and checked, shared
    out over up to READERS threads (reading and hashing release the GIL): they are most of what opening a
    bundle costs a cold `vaedge generate`. Any other error is raised."""
    import threading

    ordered = sorted(files, key=lambda f: -max(f.size, 0))  # largest first: the shares even out
    results: dict[str, bytes | Exception] = {}

    def read_share(share: list[ModelFile]) -> None:
        for f in share:
            try:
                results[f.path] = read_file(manifest, f)
            except Exception as exc:  # raised below, by the calling thread
                results[f.path] = exc

    count = max(1, min(READERS, os.cpu_count() or 1, len(ordered)))
    threads = [threading.Thread(target=read_share, args=(ordered[i::count],)) for i in range(1, count)]
    for thread in threads:
        thread.start()
    read_share(ordered[::count])
    for thread in threads:
        thread.join()
    unexpected = [e for e in results.values() if isinstance(e, Exception) and not isinstance(e, BundleError)]
    if unexpected:
        raise unexpected[0]
    return results


def _problems(files: list[ModelFile], results: dict) -> list[str]:
    return [str(results[f.path]) for f in files if isinstance(results[f.path], BundleError)]


def _raise_problems(problems: list[str]) -> None:
    if problems:
        raise BundleError("bundle files do not match the manifest: " + "; ".join(problems))


def verify_files(manifest: Manifest, only: list[ModelFile] | None = None) -> list[str]:
    """Check size and sha256 of each file (all by default); return one line per problem."""
    files = list(only if only is not None else manifest.files)
    return _problems(files, _read_checked(manifest, files))


def unlisted_files(manifest: Manifest) -> list[str]:
    """Entries in the bundle directory that the manifest does not list (hidden files included)."""
    listed = {MANIFEST, SIGNATURE, *(f.path for f in manifest.files)}
    return sorted(describe(p.name) for p in manifest.root.iterdir() if p.name not in listed)


def check_files(manifest: Manifest, only: list[ModelFile] | None = None) -> None:
    """Raise BundleError naming every file whose size or hash differs from the manifest."""
    _raise_problems(verify_files(manifest, only))


def read_all(manifest: Manifest) -> dict[str, bytes]:
    """{file name: bytes} of the manifest and every file it lists, each read once and hash-checked;
    BundleError names every file that does not match. Engines load these bytes, nothing re-read."""
    results = _read_checked(manifest, manifest.files)
    _raise_problems(_problems(manifest.files, results))
    return {MANIFEST: manifest.data, **{f.path: results[f.path] for f in manifest.files}}
