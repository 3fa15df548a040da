"""`vaedge bench`: decoder speed of every variant side by side, against the machine's own limit."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import BUNDLE, with_options
from vaedge.cli.errors import reported


@reported
@with_options("threads")
def bench(
    bundle: Path = BUNDLE,
    keras: Optional[Path] = typer.Option(None, "--keras", help="Run directory: adds Keras predict/call and plain tf2onnx."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write every figure as JSON."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG bar chart."),
    seconds: float = typer.Option(0.5, help="Seconds per throughput/latency measurement."),
    *,
    threads: Optional[int],
) -> None:
    """Throughput at batch 1/64/256, batch-1 latency, size, memory and cold start, vs the sgemm roofline."""
    if keras is not None:
        from vaedge.quiet import import_tensorflow

        import_tensorflow()
    from vaedge.bench.report import chart_png, table
    from vaedge.bench.run import bench as run_bench
    from vaedge.io import atomic

    results = run_bench(bundle, keras, seconds=seconds, threads=threads)
    from rich.console import Console

    console = Console() if Console().is_terminal else Console(width=160)
    console.print(table(results))
    cold = results["cold_start_s"]
    console.print(f"cold start to PNG: runtime {cold['runtime_generate']:.2f} s, Keras script {cold['keras_script']:.2f} s "
                  f"({cold['speedup']:.1f}x); peak RSS {results['peak_rss_mb']:.0f} MiB")
    if json_path is not None:
        atomic.write_json(json_path, results)
    if plot is not None:
        atomic.write_bytes(plot, chart_png(results))
