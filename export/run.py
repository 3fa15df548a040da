"""Entry points for `vaedge export` and `vaedge validate`: resolve models and data, then act."""

from __future__ import annotations

from pathlib import Path

from vaedge import progress
from vaedge.errors import ExportError
from vaedge.export.bundle import ExportResult, export_bundle
from vaedge.export.config import ExportConfig
from vaedge.export.sources import KerasSource, from_files, from_run
from vaedge.io import atomic
from vaedge.io.datasets import DEFAULT_DATASET, default_data
from vaedge.runtime.manifest import is_bundle
from vaedge.train.data import load_dataset


def load_source(run: Path | None, encoder: Path | None, decoder: Path | None, unsafe: bool) -> KerasSource:
    if run is not None and (encoder or decoder):
        raise ExportError("give a run directory or --encoder/--decoder, not both")
    if run is not None:
        return from_run(run, unsafe=unsafe)
    if encoder is None or decoder is None:
        raise ExportError("give a run directory, or both --encoder and --decoder")
    return from_files(encoder, decoder, unsafe=unsafe)


def check_out(out: Path, force: bool, sources: list[Path]) -> None:
    """Before any work: `out` may be new, empty or (with --force) a bundle vaedge made, and must not
    hold, or sit inside, what is being exported."""
    atomic.check_directory_target(out, force, is_bundle, "bundle", sources=tuple(sources))


def images_for(source: KerasSource, data: str | None, train: int, held_out: int, seed: int):
    """(training images, held-out images) fitted to the model's input shape."""
    data = default_data(data, source.train_config) or DEFAULT_DATASET
    height, width, channels = source.image_shape
    dataset = load_dataset(data, image_size=(height, width), channels=channels, limit=train, seed=seed)
    return dataset.x_train[:train], dataset.x_test[:held_out]


def export(
    config: ExportConfig,
    out: Path,
    run: Path | None = None,
    encoder: Path | None = None,
    decoder: Path | None = None,
    force: bool = False,
    sign_key: Path | None = None,
) -> ExportResult:
    """Export a run (or an encoder/decoder pair) into the bundle directory `out`."""
    config.validate()
    check_out(Path(out), force, [p for p in (run, encoder, decoder) if p is not None])
    progress.step("loading the Keras models")
    source = load_source(run, encoder, decoder, config.unsafe)
    progress.step("loading calibration and held-out images")
    train_images, held_out = images_for(
        source, config.data, config.calibration_images, config.validation_images, config.seed
    )
    return export_bundle(
        source, config, out, held_out=held_out, train_images=train_images, force=force, sign_key=sign_key
    )


def validate_with_keras(
    bundle: Path,
    run: Path | None,
    encoder: Path | None,
    decoder: Path | None,
    data: str | None,
    images: int = 256,
    unsafe: bool = False,
    backends=None,
):
    """Fresh Keras outputs vs every graph in the bundle (on `backends`, default each format's own engine)."""
    from vaedge.export.validate import validate

    source = load_source(run, encoder, decoder, unsafe)
    _, held_out = images_for(source, data, 1, images, 0)
    return validate(bundle, source, held_out, backends=backends)
