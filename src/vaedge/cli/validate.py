"""`vaedge validate`: check a bundle's files, and its graphs against Keras or the stored reference."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.errors import reported
from vaedge.io.files import describe


@reported
def validate(
    bundle: Path = typer.Argument(..., help="Bundle directory."),
    keras: Optional[Path] = typer.Option(None, "--keras", help="Run directory to compare against, fresh."),
    encoder: Optional[Path] = typer.Option(None, help="Encoder .keras file instead of --keras."),
    decoder: Optional[Path] = typer.Option(None, help="Decoder .keras file instead of --keras."),
    data: Optional[str] = typer.Option(None, help="Held-out images (default: the run's data)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write every check as JSON to this file."),
    unsafe: bool = typer.Option(False, help="Allow Keras files with Lambda layers."),
    backend: Optional[list[str]] = typer.Option(
        None,
        "--backend",
        help="Run the graphs on this backend: onnx, tflite or openvino; repeat for several "
        "(default: each file on its own engine, tflite only if LiteRT is installed).",
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Print every check, not one line per file."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
) -> None:
    """Verify sha256 of every file, then parity: against Keras with --keras, else the stored reference."""
    from vaedge import progress
    from vaedge.cli.report import file_facts, print_checks, print_summary, summary_lines
    from vaedge.io.datasets import check_data_path
    from vaedge.runtime.parity import raise_on_failure

    check_data_path(data)  # a wrong path is reported now, not after TensorFlow's import
    with progress.shown(not quiet):
        if keras or encoder or decoder:
            from vaedge.quiet import import_tensorflow

            progress.step("starting TensorFlow")
            import_tensorflow()
            from vaedge.export.run import validate_with_keras

            progress.step("Keras outputs, then every graph against them")
            checks = validate_with_keras(bundle, keras, encoder, decoder, data, unsafe=unsafe, backends=backend or None)
            title = f"{describe(bundle)} against fresh Keras outputs"
            short_title = f"{describe(bundle)}: vs fresh Keras outputs"
        else:
            from vaedge.runtime.parity import validate_stored

            progress.step("sha256 of every file, then every graph against the stored reference")
            checks = validate_stored(bundle, backends=backend or None)
            title = f"{describe(bundle)} against the reference stored at export"
            short_title = f"{describe(bundle)}: vs the Keras outputs stored at export"
    if verbose:
        print_checks(checks, title, json_path)
    else:
        print_checks(checks, title, json_path, table=False)
        print_summary(summary_lines(checks, *file_facts(bundle)), short_title)
    raise_on_failure(checks)
    typer.echo(f"{describe(bundle)}: every file matches its sha256 and every graph passes its gate")
