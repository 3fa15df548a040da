"""`vaedge info`: what a bundle's manifest says, and which files verify."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vaedge.cli.bundle_options import BUNDLE
from vaedge.cli.errors import fail, reported


@reported
def info(
    bundle: Path = BUNDLE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    precision: str = typer.Option("fp32", help="Show what --backend auto runs at this precision."),
    engine: bool = typer.Option(
        False, "--engine", help="Measure what --backend auto picks here if no measurement is cached yet."
    ),
) -> None:
    """Image shape, latent dim, files with role/format/precision/size and whether each hash verifies, and the
    engine `--backend auto` runs for each batch size, with the img/s it measured per engine."""
    from vaedge.io.files import describe
    from vaedge.runtime.manifest import read_manifest, unlisted_files, verify_files

    manifest = read_manifest(bundle)
    files = [
        {
            "path": f.path,
            "role": f.role,
            "format": f.format,
            "precision": f.precision,
            "size": f.size,
            "verified": not verify_files(manifest, [f]),
        }
        for f in manifest.files
    ]
    summary = {
        "bundle": str(bundle),
        "image_shape": list(manifest.image_shape),
        "latent_dim": manifest.latent_dim,
        "sampling": manifest.sampling_formula,
        "metrics": manifest.metrics,
        "files": files,
        "unlisted_files": unlisted_files(manifest),
        "micro": micro_rows(manifest),
    }
    if all(f["verified"] for f in files) and not summary["unlisted_files"]:
        summary["engine"] = auto_choice(bundle, manifest, precision, measure=engine)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = Console(highlight=False, markup=False)
        console.print(
            f"{describe(bundle)}: images {tuple(manifest.image_shape)} NHWC in [0, 1], latent dim {manifest.latent_dim}"
        )
        console.print(f"sampling on the host: {describe(str(summary['sampling']))}")
        table = Table("file", "role", "format", "precision", "bytes", "sha256")
        for f in files:
            table.add_row(
                *(Text(str(f[k])) for k in ("path", "role", "format", "precision", "size")),
                Text("ok") if f["verified"] else Text("MISMATCH", style="red"),
            )
        console.print(table)
        if summary["micro"]:
            from vaedge.runtime.boards import BOARDS

            micro = Table("micro graph (TFLM)", "arena bytes", "flash bytes", "fits (RAM and flash)")
            for row in summary["micro"]:
                micro.add_row(
                    *(Text(str(row[k])) for k in ("file", "arena_bytes", "flash_bytes")),
                    Text(", ".join(row["fits"]) or "none of the listed boards"),
                )
            console.print(micro)
            console.print(
                "boards: "
                + "; ".join(
                    f"{b.short}: {b.name}, {b.ram // 1024} KiB RAM, {b.flash // 1024} KiB flash" for b in BOARDS
                )
            )
        if "engine" in summary:
            console.print(f"engine: {summary['engine']['text']}")
    bad = [f["path"] for f in files if not f["verified"]] + summary["unlisted_files"]
    if bad:
        raise fail(f"{describe(bundle)}: files that do not verify or are not listed: {', '.join(bad)}")


def micro_rows(manifest) -> list[dict]:
    """Per micro graph: file, measured arena and flash, and the common boards it fits (runtime/boards.py)."""
    from vaedge.runtime.boards import boards_that_fit

    return [
        {
            "role": role,
            "file": g.file,
            "arena_bytes": g.arena_bytes,
            "flash_bytes": g.flash_bytes,
            "fits": [b.short for b in boards_that_fit(g.arena_bytes, g.flash_bytes)],
        }
        for role, g in manifest.micro.items()
    ]


def auto_choice(bundle: Path, manifest, precision: str, measure: bool) -> dict:
    """{"text", and the measured img/s with the picks} of what `--backend auto` runs at `precision`: from the
    per-user cache, or (with `measure`) measured now. `info` alone never times engines."""
    from vaedge.errors import VaedgeError
    from vaedge.runtime import load
    from vaedge.runtime.auto import cached_choice
    from vaedge.runtime.options import EngineOptions

    try:
        cached = cached_choice(manifest, EngineOptions(precision=precision))
    except VaedgeError as exc:
        return {"text": f"none at {precision} ({exc})"}
    if cached is not None:
        return {"text": cached.describe(), **cached.as_dict()}
    if not measure:
        return {
            "text": f"auto at {precision}: not measured on this machine yet (the first load measures it, "
            "or `vaedge info --engine`)"
        }
    try:
        generator = load(bundle, precision=precision)
    except VaedgeError as exc:
        return {"text": f"none at {precision} ({exc})"}
    return {"text": generator.engine, **generator.decoder.choice.as_dict()}
