"""`vaedge bench`: decoder speed of every variant side by side, against the machine's own limit."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import BUNDLE, Threads
from vaedge.cli.errors import fail, reported
from vaedge.io.files import describe

MAX_SECONDS = 3600.0  # per measurement
MAX_COLD_STARTS = 100


@reported
def bench(
    bundle: Path = BUNDLE,
    keras: Optional[Path] = typer.Option(
        None, "--keras", help="Run directory: adds Keras predict/call and plain tf2onnx."
    ),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write every figure as JSON."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG bar chart."),
    seconds: float = typer.Option(0.5, help="Seconds per throughput/latency measurement."),
    cold_starts: int = typer.Option(3, "--cold-starts", help="Fresh processes timed per cold start (best kept)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress display."),
    threads: Threads = None,
) -> None:
    """Throughput at batch 1/64/256, batch-1 latency, size, memory and cold start, vs the sgemm roofline."""
    from vaedge import progress
    from vaedge.errors import InputError
    from vaedge.runtime.generator import MAX_THREADS
    from vaedge.runtime.inputs import bounded_int

    if threads is not None:
        threads = bounded_int(threads, "--threads", MAX_THREADS)
    if not 0 < seconds <= MAX_SECONDS:  # NaN fails too; inf would never end
        raise InputError(f"--seconds must be > 0 and at most {MAX_SECONDS:g}, got {seconds}")
    cold_starts = bounded_int(cold_starts, "--cold-starts", MAX_COLD_STARTS)

    if plot is not None and plot.suffix.lower() != ".png":
        raise fail(f"{describe(plot)}: --plot writes a PNG; name it .png")
    with progress.shown(not quiet):
        if keras is not None:
            from vaedge.quiet import import_tensorflow

            progress.step("starting TensorFlow")
            import_tensorflow()
        from vaedge.bench.report import chart_png, summary, table
        from vaedge.bench.run import bench as run_bench
        from vaedge.io import atomic

        results = run_bench(bundle, keras, seconds=seconds, threads=threads, cold_starts=cold_starts)
    from rich.console import Console

    console = Console(markup=False, highlight=False)
    if not console.is_terminal:
        console = Console(width=160, markup=False, highlight=False)
    console.print(table(results))
    for line in summary(results):
        console.print(line)
    if json_path is not None:
        atomic.write_json(json_path, results)
    if plot is not None:
        atomic.write_bytes(plot, chart_png(results))
