"""`vaedge validate`: check a bundle's files, and its graphs against Keras or the stored reference."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.io.files import describe
from vaedge.cli.errors import reported


@reported
def validate(
    bundle: Path = typer.Argument(..., help="Bundle directory."),
    keras: Optional[Path] = typer.Option(None, "--keras", help="Run directory to compare against, fresh."),
    encoder: Optional[Path] = typer.Option(None, help="Encoder .keras file instead of --keras."),
    decoder: Optional[Path] = typer.Option(None, help="Decoder .keras file instead of --keras."),
    data: Optional[str] = typer.Option(None, help="Held-out images (default: the run's data)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
    unsafe: bool = typer.Option(False, help="Allow Keras files with Lambda layers."),
    backend: Optional[list[str]] = typer.Option(
        None, "--backend", help="Run the graphs on this backend: onnx, tflite or openvino; repeat for several "
                                "(default: each file on its own engine, tflite only if LiteRT is installed)."),
) -> None:
    """Verify sha256 of every file, then parity: against Keras with --keras, else the stored reference."""
    from vaedge.cli.report import print_checks
    from vaedge.runtime.parity import raise_on_failure

    if keras or encoder or decoder:
        from vaedge.quiet import import_tensorflow

        import_tensorflow()
        from vaedge.export.run import validate_with_keras

        checks = validate_with_keras(bundle, keras, encoder, decoder, data, unsafe=unsafe, backends=backend or None)
        title = f"{describe(bundle)} against fresh Keras outputs"
    else:
        from vaedge.runtime.parity import validate_stored

        checks = validate_stored(bundle, backends=backend or None)
        title = f"{describe(bundle)} against the reference stored at export"
    print_checks(checks, title, json_path)
    raise_on_failure(checks)
    typer.echo(f"{describe(bundle)}: every file matches its sha256 and every graph passes its gate")
