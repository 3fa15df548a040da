"""Parity of every graph in a bundle against reference outputs from Keras (no TensorFlow needed here).

Names are checked first, then shapes, then values; every failure is collected. Gates: fp32 max abs
difference <= 1e-5 for images and <= 1e-4 for latents (and for the encoder->decoder chain);
fp16/int8 PSNR >= 30 dB against Keras on the same latents (for encoders: their z_mean decoded by the
bundle's fp32 decoder).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vaedge.errors import BundleError, InputError, ParityError
from vaedge.io.arrays import npz_arrays
from vaedge.io.files import describe
from vaedge.runtime.backends import REGISTRY, installed_backends, open_bundle_file, own_engine
from vaedge.runtime.manifest import Manifest, ModelFile, check_files, read_file, read_manifest
from vaedge.runtime.options import EngineOptions
from vaedge.runtime.sampling import host_sample

PARITY_FILE = "parity.npz"
IMAGE_GATE = 1e-5
LATENT_GATE = 1e-4
PSNR_GATE = 30.0
ENCODER_IO = (["image"], ["z_mean", "z_log_var"])
DECODER_IO = (["z"], ["image"])
LATENT_GROUPS = ("prior samples", "posterior means", "latent grid")


@dataclass
class Check:
    """One measured comparison; `passed` is `value <= gate` for max_abs and `value >= gate` for psnr."""

    file: str
    probe: str
    tensor: str
    metric: str
    value: float
    gate: float
    passed: bool
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def _value_check(file, probe, tensor, actual, expected, precision, gate) -> Check:
    if precision == "fp32":
        diff = float(np.max(np.abs(actual - expected)))
        ok = bool(np.isfinite(actual).all()) and diff <= gate
        return Check(file, probe, tensor, "max_abs", diff, gate, ok)
    value = psnr(actual, expected)
    return Check(file, probe, tensor, "psnr_db", value, PSNR_GATE, bool(value >= PSNR_GATE))


def _io_checks(file: ModelFile, label: str, model, expected_io) -> list[Check]:
    checks = []
    for kind, actual, wanted in (
        ("inputs", model.input_names, expected_io[0]),
        ("outputs", model.output_names, expected_io[1]),
    ):
        declared = [t["name"] for t in getattr(file, kind)]
        ok = sorted(actual) == sorted(wanted) and sorted(declared) == sorted(wanted)
        checks.append(
            Check(
                label,
                "names",
                kind,
                "names",
                float(ok),
                1.0,
                ok,
                f"graph {sorted(actual)}, manifest {sorted(declared)}, expected {sorted(wanted)}",
            )
        )
    return checks


def _encoder_checks(file: ModelFile, label: str, out: dict, reference: dict, fp32_decoder) -> list[Check]:
    expected_shape = reference["z_mean"].shape
    shape_ok = all(out[t].shape == expected_shape for t in ENCODER_IO[1])
    checks = [
        Check(
            label,
            "shapes",
            "z_mean, z_log_var",
            "shape",
            float(shape_ok),
            1.0,
            shape_ok,
            f"got {[out[t].shape for t in ENCODER_IO[1]]}, expected {expected_shape}",
        )
    ]
    if not shape_ok:
        return checks
    probe = f"{len(reference['images'])} held-out images"
    if file.precision == "fp32":
        return checks + [
            _value_check(label, probe, t, out[t], reference[t], "fp32", LATENT_GATE) for t in ENCODER_IO[1]
        ]
    posterior = reference["latent_group"] == LATENT_GROUPS.index("posterior means")
    decoded = fp32_decoder.run({"z": out["z_mean"]})["image"]
    return checks + [
        _value_check(
            label, probe + " decoded", "z_mean", decoded, reference["decoded"][posterior], file.precision, IMAGE_GATE
        )
    ]


def _decoder_checks(file: ModelFile, label: str, out: np.ndarray, reference: dict) -> list[Check]:
    shape_ok = out.shape == reference["decoded"].shape
    checks = [
        Check(
            label,
            "shapes",
            "image",
            "shape",
            float(shape_ok),
            1.0,
            shape_ok,
            f"got {out.shape}, expected {reference['decoded'].shape}",
        )
    ]
    if not shape_ok:
        return checks
    for group, name in enumerate(LATENT_GROUPS):
        rows = reference["latent_group"] == group
        checks.append(
            _value_check(
                label,
                f"{int(rows.sum())} {name}",
                "image",
                out[rows],
                reference["decoded"][rows],
                file.precision,
                IMAGE_GATE,
            )
        )
    return checks


def check_bundle(
    manifest: Manifest,
    reference: dict,
    formats=("onnx", "tflite"),
    backends=None,
    loaded: dict[str, bytes] | None = None,
) -> list[Check]:
    """Run every model of the given formats on the reference inputs; return one Check per comparison.

    Each file runs on its format's own engine, or with `backends` (e.g. ("onnx", "openvino")) on each
    listed backend that runs its format; checks from a backend other than the format's own are
    labelled "file (backend)". `loaded`: {path: bytes already hash-checked}, read now where missing."""
    backends = tuple(backends or formats)
    unknown = [b for b in backends if b not in REGISTRY]
    if unknown:
        raise InputError(f"unknown backend(s) {', '.join(map(repr, unknown))}; vaedge has {', '.join(REGISTRY)}")
    checks: list[Check] = []
    loaded = loaded or {}
    fp32_file = manifest.find("decoder", "onnx", "fp32")
    fp32_decoder = open_bundle_file(manifest, fp32_file, loaded)
    fp32_pair: dict[str, dict] = {}
    for file in manifest.files:
        if file.role not in ("encoder", "decoder"):
            continue
        for backend in (b for b in backends if file.format in REGISTRY[b].formats):
            label = file.path if backend == own_engine(file.format).name else f"{file.path} ({backend})"
            model = open_bundle_file(manifest, file, loaded, EngineOptions(backend=backend))
            io_checks = _io_checks(file, label, model, ENCODER_IO if file.role == "encoder" else DECODER_IO)
            checks += io_checks
            if not all(c.passed for c in io_checks):
                continue
            if file.role == "encoder":
                out = model.run({"image": reference["images"]})
                model_checks = _encoder_checks(file, label, out, reference, fp32_decoder)
            else:
                out, model_checks = (
                    model,
                    _decoder_checks(file, label, model.run({"z": reference["latents"]})["image"], reference),
                )
            checks += model_checks
            if file.precision == "fp32" and model_checks[0].passed:  # the shapes were right
                fp32_pair.setdefault(backend, {})[file.role] = out  # encoder: its outputs; decoder: the model
    for backend, pair in fp32_pair.items():
        if set(pair) == {"encoder", "decoder"}:
            z = host_sample(pair["encoder"]["z_mean"], pair["encoder"]["z_log_var"], reference["eps"])
            out = pair["decoder"].run({"z": z})["image"]
            # Two graphs in a chain: the encoder's own (gated) latent error reaches the image, so the
            # chain is held to the latent gate; each graph alone meets the image gate above.
            checks.append(
                _value_check(
                    f"encoder+decoder ({backend}, fp32)",
                    "host sampling, same eps as Keras Sampling",
                    "image",
                    out,
                    reference["reconstruction"],
                    "fp32",
                    LATENT_GATE,
                )
            )
    return checks


def raise_on_failure(checks: list[Check]) -> None:
    """Raise ParityError listing every failed check with file, tensor, measured value and gate."""
    failed = [c for c in checks if not c.passed]
    if failed:
        lines = [
            f"{c.file} {c.tensor} [{c.probe}]: {c.metric} {c.value:.3g} "
            f"(gate {'<=' if c.metric == 'max_abs' else '>='} {c.gate:g})"
            + (f" {c.detail}" if c.detail and c.metric in ("names", "shape") else "")
            for c in failed
        ]
        raise ParityError(f"{len(failed)} parity check(s) failed: " + "; ".join(lines))


MAX_REFERENCE_BYTES = 256 * 2**20  # inflated; a real reference is a few MB
REFERENCE_KEYS = ("images", "z_mean", "z_log_var", "latents", "latent_group", "decoded", "eps", "reconstruction")


def load_stored_reference(manifest: Manifest) -> dict[str, np.ndarray]:
    """The Keras reference outputs saved in the bundle at export time: hash-checked bytes, no pickle,
    every array's size checked before it is inflated, and every array the checks need present."""
    file = next((f for f in manifest.files if f.role == "parity"), None)
    if file is None:
        raise BundleError(f"{describe(manifest.root)}: the manifest lists no {PARITY_FILE}")
    name = describe(manifest.path(file))
    arrays = npz_arrays(
        read_file(manifest, file), name, REFERENCE_KEYS, max_bytes=MAX_REFERENCE_BYTES, error=BundleError
    )
    missing = [k for k in REFERENCE_KEYS if k not in arrays]
    if missing:
        raise BundleError(f"{name}: missing array(s) {', '.join(missing)}")
    return arrays


def validate_stored(bundle: Path, formats=("onnx", "tflite"), backends=None) -> list[Check]:
    """Hashes of every file, then every graph against the stored Keras reference; no TensorFlow needed.
    Without `backends`, tflite files are skipped when LiteRT is not installed."""
    manifest = read_manifest(bundle)
    check_files(manifest)
    if backends is None:
        formats = tuple(f for f in formats if installed_backends(f))
    return check_bundle(manifest, load_stored_reference(manifest), formats=formats, backends=backends)
