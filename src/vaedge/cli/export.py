"""`vaedge export`: Keras models -> a validated bundle of ONNX and TFLite graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.errors import reported
from vaedge.export.config import ExportConfig
from vaedge.io.files import describe


@reported
def export(
    run: Optional[Path] = typer.Argument(None, help="A `vaedge train` run directory."),
    out: Path = typer.Option(..., "--out", help="Bundle directory to create."),
    encoder: Optional[Path] = typer.Option(None, help="Encoder .keras file (course notebook models), with --decoder."),
    decoder: Optional[Path] = typer.Option(None, help="Decoder .keras file, with --encoder."),
    precision: list[str] = typer.Option(["fp32"], help="fp32, fp16 or int8; repeat for several variants."),
    opset: Optional[int] = typer.Option(None, help=f"ONNX opset (default {ExportConfig.opset})."),
    tflite: bool = typer.Option(True, help="Also write TFLite graphs."),
    tflite_batch: list[int] = typer.Option([1, 64], help="Fixed batch of the TFLite graphs; repeat for several."),
    data: Optional[str] = typer.Option(None, help="Images for calibration and validation (default: the run's data)."),
    unsafe: bool = typer.Option(False, help="Allow Keras files with Lambda layers (runs their code)."),
    micro: bool = typer.Option(
        False,
        help="Microcontroller graphs: the int8 batch-1 decoder rebuilt for TensorFlow "
        "Lite Micro's memory, both graphs measured under TFLM (arena, flash, "
        "parity) for `vaedge micro`.",
    ),
    force: bool = typer.Option(False, help="Replace an existing bundle vaedge made, whole, once the new one passed."),
    sign_key: Optional[Path] = typer.Option(
        None, help="EC private key (PEM): sign the bundle (vaedge.sig) before publishing it."
    ),
    verbose: bool = typer.Option(False, "--verbose", help="Show the full parity table and the converters' own output."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
) -> None:
    """Export encoder and decoder as optimised ONNX and TFLite graphs, validated against Keras."""
    from vaedge import progress
    from vaedge.io.datasets import check_data_path

    check_data_path(data)  # a wrong path is reported now, not after TensorFlow's import
    from vaedge.quiet import import_tensorflow, native_stderr_silenced, set_verbose

    set_verbose(verbose)
    with progress.shown(not quiet):
        progress.step("starting TensorFlow")
        import_tensorflow()
        from vaedge.export.run import export as run_export

        config = ExportConfig(
            precisions=list(precision),
            tflite=tflite,
            tflite_batches=list(tflite_batch),
            data=data,
            unsafe=unsafe,
            micro=micro,
        )
        if opset is not None:
            config.opset = opset
        with native_stderr_silenced():  # tf2onnx, the TFLite converter and LiteRT talk on stderr
            result = run_export(config, out, run=run, encoder=encoder, decoder=decoder, force=force, sign_key=sign_key)
    from vaedge.cli.report import file_facts, print_checks, print_summary, print_wrapped, summary_lines

    if verbose:
        print_checks(result.checks, f"parity against Keras: {result.bundle}")
    title = f"{describe(result.bundle)}: every file vs Keras"
    print_summary(summary_lines(result.checks, *file_facts(result.bundle), result.skipped), title)
    for precision, why in result.notes.items():
        print_wrapped(f"note: {precision}: {why}")
    for why in result.micro_refused.values():
        print_wrapped(f"not a micro graph: {why}")
    signed = f", signed with {describe(sign_key)}" if sign_key else ""
    typer.echo(f"{describe(result.bundle)}: bundle written and validated{signed}")
