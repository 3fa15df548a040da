"""Keras models to export: a `vaedge train` run, or the encoder/decoder a course student saved.

Either way the result is an encoder `image -> {z_mean, z_log_var}` and a decoder `z -> image`;
the sampling step is cut away and never exported.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras

from vaedge.errors import ExportError
from vaedge.io.files import MiB, describe, read_regular
from vaedge.train.config import TrainConfig
from vaedge.train.model import Sampling  # registers vaedge's layers for loading runs

MAX_KERAS_BYTES = 1024 * MiB
MAX_JSON_BYTES = 16 * MiB
LAYER_BASE_KEYS = ("name", "trainable", "dtype", "autocast", "input_dim", "input_shape", "batch_input_shape")


class CourseSampling(keras.layers.Layer):
    """Stand-in for the notebook's `Sampling`: `[mu, sigma] -> mu + exp(0.5 * sigma) * eps`."""

    def __init__(self, **kwargs):
        super().__init__(**{k: v for k, v in kwargs.items() if k in LAYER_BASE_KEYS})

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(keras.ops.shape(z_mean))
        return z_mean + keras.ops.exp(0.5 * z_log_var) * eps


class CourseKLD(keras.layers.Layer):
    """Stand-in for the 2025 notebook's `KLDLayer` (the course's KL, averaged over latent dims)."""

    def __init__(self, **kwargs):
        super().__init__(**{k: v for k, v in kwargs.items() if k in LAYER_BASE_KEYS})

    def call(self, inputs):
        z_mean, z_log_var = inputs
        ops = keras.ops
        return -0.5 * ops.mean(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))


COURSE_OBJECTS = {"Sampling": CourseSampling, "KLDLayer": CourseKLD}


@dataclass
class KerasSource:
    """Encoder image (N, H, W, C) -> {z_mean, z_log_var} (N, D); decoder z (N, D) -> image."""

    encoder: keras.Model
    decoder: keras.Model
    origin: str
    train_config: dict | None = None
    metrics: dict | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.encoder.inputs[0].shape[1:])

    @property
    def latent_dim(self) -> int:
        return int(self.decoder.inputs[0].shape[-1])


def from_run(run_dir: Path, unsafe: bool = False) -> KerasSource:
    """Load a finished `vaedge train` run directory."""
    run_dir = Path(run_dir)
    missing = [
        n
        for n in ("encoder.keras", "decoder.keras", "train_config.json", "metrics.json")
        if not (run_dir / n).is_file()
    ]
    if missing:
        hint = (
            " (an unfinished run: continue it with vaedge train --resume)" if (run_dir / "checkpoints").is_dir() else ""
        )
        raise ExportError(f"{run_dir}: missing {', '.join(missing)}{hint}")
    config = TrainConfig.load(run_dir)
    encoder = _load(run_dir / "encoder.keras", unsafe)
    decoder = _load(run_dir / "decoder.keras", unsafe)
    metrics = _metrics(run_dir / "metrics.json")
    if "run" not in metrics:  # a run made before metrics.json held it: its train_config.json did
        from vaedge.train.lifecycle import read_run_info

        metrics["run"] = read_run_info(run_dir)
    source = KerasSource(
        _cut_at_sampling(encoder, run_dir / "encoder.keras"),
        decoder,
        f"vaedge run {run_dir}",
        train_config=config.__dict__,
        metrics=metrics,
    )
    return _checked(source, run_dir)


def from_files(encoder_path: Path, decoder_path: Path, unsafe: bool = False) -> KerasSource:
    """Load an encoder and a decoder saved with `.save()`, e.g. from the course notebook."""
    encoder = _load(Path(encoder_path), unsafe)
    decoder = _load(Path(decoder_path), unsafe)
    source = KerasSource(
        _cut_at_sampling(encoder, encoder_path), decoder, f"keras files {encoder_path}, {decoder_path}"
    )
    return _checked(source, encoder_path)


def _metrics(path: Path) -> dict:
    """A run's metrics.json: a JSON object whose figures are numbers (bounded read, typed errors)."""
    try:
        metrics = json.loads(read_regular(path, MAX_JSON_BYTES, ExportError))
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, ExportError):
            raise
        raise ExportError(f"{describe(path)}: not valid JSON ({exc})") from None
    figures = ("test_neg_elbo", "test_reconstruction", "test_kl")
    if not isinstance(metrics, dict) or not all(
        isinstance(metrics.get(k), (int, float)) and not isinstance(metrics.get(k), bool)
        for k in figures
        if k in metrics
    ):
        raise ExportError(f"{describe(path)}: expected a JSON object with numeric {', '.join(figures)}")
    return metrics


def keras_bytes(path: Path) -> bytes:
    """A .keras file's bytes, refused before Keras sees them if it is not a regular file, too large, or a
    zip whose members declare more than the budget (a 2 GiB config.json is a decompression bomb)."""
    data = read_regular(path, MAX_KERAS_BYTES, ExportError)
    if data[:4] == b"PK\x03\x04":
        try:
            members = zipfile.ZipFile(io.BytesIO(data)).infolist()
        except (zipfile.BadZipFile, ValueError) as exc:
            raise ExportError(f"{describe(path)}: not a valid .keras zip ({exc})") from None
        total = sum(m.file_size for m in members)
        config = sum(m.file_size for m in members if m.filename.endswith(".json"))
        if total > MAX_KERAS_BYTES or config > MAX_JSON_BYTES:
            raise ExportError(
                f"{describe(path)}: its zip declares {total:,} bytes ({config:,} of JSON), more than the "
                f"{MAX_KERAS_BYTES:,} ({MAX_JSON_BYTES:,} of JSON) a VAE needs"
            )
    return data


def _load(path: Path, unsafe: bool) -> keras.Model:
    data = keras_bytes(path)
    try:
        # Keras loads from a path: give it a private copy of exactly the bytes that were checked.
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / ("model" + (path.suffix or ".keras"))
            copy.write_bytes(data)
            return keras.saving.load_model(copy, custom_objects=COURSE_OBJECTS, compile=False, safe_mode=not unsafe)
    except ValueError as exc:
        if "safe_mode" in str(exc) or "Lambda" in str(exc):
            raise ExportError(
                f"{describe(path)}: holds a Lambda layer (arbitrary code); load it only if you trust it, with --unsafe"
            ) from None
        raise ExportError(f"{describe(path)}: cannot load as a Keras model ({str(exc).splitlines()[0]})") from None
    except Exception as exc:  # zip, h5 and deserialisation errors have no common base
        raise ExportError(
            f"{describe(path)}: cannot load as a Keras model "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None


def _cut_at_sampling(encoder: keras.Model, path) -> keras.Model:
    """The sub-model from the encoder's input to the tensors that feed its Sampling layer."""
    samplers = [layer for layer in encoder.layers if isinstance(layer, (CourseSampling, Sampling))]
    if not samplers:
        outputs = encoder.outputs
        if len(outputs) != 2:
            raise ExportError(
                f"{describe(path)}: expected an encoder with outputs (z_mean, z_log_var) or a Sampling layer, "
                f"found {len(outputs)} outputs and no Sampling layer"
            )
        z_mean, z_log_var = outputs
    elif len(samplers) > 1:
        raise ExportError(f"{describe(path)}: {len(samplers)} Sampling layers; expected one")
    else:
        inputs = samplers[0]._inbound_nodes[0].input_tensors
        if len(inputs) != 2:
            raise ExportError(f"{describe(path)}: the Sampling layer takes {len(inputs)} tensors, expected (mu, sigma)")
        z_mean, z_log_var = inputs
    inputs = encoder.inputs[0] if len(encoder.inputs) == 1 else encoder.inputs
    return keras.Model(inputs, {"z_mean": z_mean, "z_log_var": z_log_var}, name="encoder")


def _checked(source: KerasSource, where) -> KerasSource:
    problems = []
    if len(source.encoder.inputs) != 1 or len(source.encoder.inputs[0].shape) != 4:
        problems.append(f"encoder input must be one (N, H, W, C) image, got {[t.shape for t in source.encoder.inputs]}")
    if len(source.decoder.inputs) != 1 or len(source.decoder.inputs[0].shape) != 2:
        problems.append(f"decoder input must be one (N, D) latent, got {[t.shape for t in source.decoder.inputs]}")
    if not problems:
        decoded = tuple(source.decoder.outputs[0].shape[1:])
        if decoded != source.image_shape:
            problems.append(f"decoder makes images {decoded}, encoder takes {source.image_shape}")
        latent = tuple(source.encoder.outputs[0].shape[1:])
        if latent != (source.latent_dim,):
            problems.append(f"encoder makes z_mean {latent}, decoder takes ({source.latent_dim},)")
    if problems:
        raise ExportError(f"{where}: " + "; ".join(problems))
    return source
