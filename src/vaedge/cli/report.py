"""Parity checks, shared by `vaedge export` and `vaedge validate`: a short summary (one line per
file, 80 columns) by default, the full rich table with --verbose."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from vaedge.io import atomic
from vaedge.io.files import describe
from vaedge.runtime.parity import PSNR_GATE


def checks_table(checks, title: str) -> Table:
    table = Table(title=title)
    for column in ("file", "probe", "tensor", "metric", "value", "gate", "ok"):
        table.add_column(column, justify="right" if column in ("value", "gate") else "left")
    for c in checks:
        if c.metric in ("names", "shape"):
            continue
        table.add_row(
            c.file,
            c.probe,
            c.tensor,
            c.metric,
            f"{c.value:.3g}",
            f"{'<=' if c.metric == 'max_abs' else '>='} {c.gate:g}",
            Text("yes", style="green") if c.passed else Text("NO", style="red"),
        )
    return table


def print_checks(checks, title: str, json_path: Path | None = None, table: bool = True) -> None:
    """The full table (every check) on stdout, and every check as JSON to `json_path`."""
    if table:
        console = Console(markup=False, highlight=False)
        if not console.is_terminal:
            console = Console(width=140, markup=False, highlight=False)  # logs and pipes: one row per check
        console.print(checks_table(checks, title))
    if json_path is not None:
        atomic.write_json(json_path, {"checks": [c.as_dict() for c in checks], "passed": all(c.passed for c in checks)})


def _worst(checks):
    """The check closest to (or furthest past) its gate: max |diff| relative to its gate, or the lowest PSNR."""

    def margin(c):
        return c.value / c.gate if c.metric == "max_abs" else c.gate - c.value + 1.0

    failed = [c for c in checks if not c.passed]
    return max(failed or checks, key=margin)


def _gate_text(c) -> str:
    if c.metric == "psnr_db":
        return f"PSNR {c.value:.1f} dB {'>=' if c.passed else '<'} {c.gate:g}"
    return f"diff {c.value:.1e} {'<=' if c.passed else '>'} {c.gate:.0e}"


def _kib(size: int | None) -> str:
    return "" if size is None else f"{size / 1024:,.0f} KiB"


def summary_lines(checks, sizes: dict[str, int], precisions: dict[str, str], skipped: dict[str, str] | None = None):
    """One line per file (name, precision, size, the check nearest its gate, ok/FAIL), under 80 columns,
    then one line per precision whose variants were not written, naming the gate and the way out."""
    by_file: dict[str, list] = {}
    for c in checks:
        if c.metric not in ("names", "shape"):
            by_file.setdefault(c.file, []).append(c)
    names = [*by_file, *(skipped or {})]
    width = max([len(n) for n in names] + [4])
    lines = []
    for label, file_checks in by_file.items():
        path = label.split(" (")[0]
        worst = _worst(file_checks)
        precision = precisions.get(path, "fp32")
        status = "ok" if all(c.passed for c in file_checks) else "FAIL"
        lines.append(f"{label:<{width}} {precision:<4} {_kib(sizes.get(path)):>8}  {_gate_text(worst):<21} {status}")
    missed: dict[str, list[str]] = {}
    for name, why in (skipped or {}).items():
        precision = next((p for p in ("int8", "fp16") if f".{p}" in name), "?")
        missed.setdefault(precision, []).append(name)
        measured = re.search(r"psnr_db ([0-9.]+)", why)
        gate = f"PSNR {float(measured[1]):.1f} dB < {PSNR_GATE:g}" if measured else f"PSNR < {PSNR_GATE:g}"
        lines.append(f"{name:<{width}} {precision:<4} {'':>8}  {gate:<21} not written")
    for precision in missed:
        way_out = "train more epochs, or --precision fp16" if precision == "int8" else "train more epochs"
        lines.append(f"not written ({precision} under {PSNR_GATE:g} dB PSNR): {way_out}")
    return lines


def print_summary(lines, title: str) -> None:
    """The short report: a title, a header and the lines of `summary_lines`, printed as data (no markup)."""
    typer.echo(describe(title))
    typer.echo("  (per file: precision, size, its check closest to the gate)")
    for line in lines:
        typer.echo(describe(line))


def file_facts(bundle: Path) -> tuple[dict[str, int], dict[str, str]]:
    """({file: size in bytes}, {file: precision}) from the bundle's manifest."""
    from vaedge.runtime.manifest import read_manifest

    files = read_manifest(bundle).files
    return {f.path: f.size for f in files}, {f.path: f.precision for f in files}


def print_wrapped(text: str, width: int = 80) -> None:
    """A note on stderr, wrapped to 80 columns (continuation lines indented)."""
    import textwrap

    typer.echo(textwrap.fill(describe(text), width=width, subsequent_indent="  "), err=True)
