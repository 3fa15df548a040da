"""`vaedge info`: what a bundle's manifest says, and which files verify."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vaedge.cli.bundle_options import BUNDLE
from vaedge.cli.errors import fail, reported


@reported
def info(bundle: Path = BUNDLE, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Image shape, latent dim, files with role/format/precision/size and whether each hash verifies."""
    from vaedge.io.files import describe
    from vaedge.runtime.manifest import read_manifest, unlisted_files, verify_files

    manifest = read_manifest(bundle)
    files = [{"path": f.path, "role": f.role, "format": f.format, "precision": f.precision, "size": f.size,
              "verified": not verify_files(manifest, [f])} for f in manifest.files]
    summary = {"bundle": str(bundle), "image_shape": list(manifest.image_shape), "latent_dim": manifest.latent_dim,
               "sampling": manifest.sampling_formula, "metrics": manifest.metrics,
               "files": files, "unlisted_files": unlisted_files(manifest)}
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        console = Console(highlight=False, markup=False)
        console.print(f"{describe(bundle)}: images {tuple(manifest.image_shape)} NHWC in [0, 1], latent dim {manifest.latent_dim}")
        console.print(f"sampling on the host: {describe(str(summary['sampling']))}")
        table = Table("file", "role", "format", "precision", "bytes", "sha256")
        for f in files:
            table.add_row(*(Text(str(f[k])) for k in ("path", "role", "format", "precision", "size")),
                          Text("ok") if f["verified"] else Text("MISMATCH", style="red"))
        console.print(table)
    bad = [f["path"] for f in files if not f["verified"]] + summary["unlisted_files"]
    if bad:
        raise fail(f"{describe(bundle)}: files that do not verify or are not listed: {', '.join(bad)}")
