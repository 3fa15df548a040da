"""Rich tables for parity checks, shared by `vaedge export` and `vaedge validate`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vaedge.io import atomic


def checks_table(checks, title: str) -> Table:
    table = Table(title=title)
    for column in ("file", "probe", "tensor", "metric", "value", "gate", "ok"):
        table.add_column(column, justify="right" if column in ("value", "gate") else "left")
    for c in checks:
        if c.metric in ("names", "shape"):
            continue
        table.add_row(c.file, c.probe, c.tensor, c.metric, f"{c.value:.3g}",
                      f"{'<=' if c.metric == 'max_abs' else '>='} {c.gate:g}", Text("yes", style="green") if c.passed else Text("NO", style="red"))
    return table


def print_checks(checks, title: str, json_path: Path | None = None) -> None:
    console = Console(markup=False, highlight=False)
    if not console.is_terminal:
        console = Console(width=140, markup=False, highlight=False)  # logs and pipes: one row per check
    console.print(checks_table(checks, title))
    if json_path is not None:
        atomic.write_json(json_path, {"checks": [c.as_dict() for c in checks],
                                      "passed": all(c.passed for c in checks)})
