"""`vaedge bench`: decoder speed of every variant side by side, against the machine's own limit."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import BUNDLE
from vaedge.cli.errors import reported

MAX_SECONDS = 3600.0  # per measurement


@reported
def bench(
    bundle: Path = BUNDLE,
    keras: Optional[Path] = typer.Option(None, "--keras", help="Run directory: adds Keras predict/call and plain tf2onnx."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write every figure as JSON."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a PNG bar chart."),
    seconds: float = typer.Option(0.5, help="Seconds per throughput/latency measurement."),
    threads: Optional[int] = typer.Option(None, help="Intra-op threads for onnxruntime/LiteRT (default: theirs)."),
) -> None:
    """Throughput at batch 1/64/256, batch-1 latency, size, memory and cold start, vs the sgemm roofline."""
    from vaedge.errors import InputError
    from vaedge.runtime.generator import MAX_THREADS
    from vaedge.runtime.inputs import bounded_int

    if threads is not None:
        threads = bounded_int(threads, "--threads", MAX_THREADS)
    if not 0 < seconds <= MAX_SECONDS:  # NaN fails too; inf would never end
        raise InputError(f"--seconds must be > 0 and at most {MAX_SECONDS:g}, got {seconds}")
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
