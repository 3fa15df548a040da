"""`vaedge web`: the bundle as a static site running in the browser (onnxruntime-web), optionally served."""

from __future__ import annotations

import signal
import tempfile
from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.errors import reported
from vaedge.io.files import describe


@reported
def web(
    source: Path = typer.Argument(..., help="A bundle, or (with --serve) a site `vaedge web` made."),
    out: Optional[Path] = typer.Option(None, "--out", help="Site directory to create."),
    ort_web: Optional[Path] = typer.Option(
        None,
        "--ort-web",
        help="dist/ folder of an onnxruntime-web npm install: "
        "copy it into the site so nothing is fetched from the network.",
    ),
    precision: list[str] = typer.Option(["fp32"], help="ONNX variants to include (first is the default); repeatable."),
    force: bool = typer.Option(False, help="Replace an existing site vaedge made."),
    serve: bool = typer.Option(False, "--serve", help="Serve the site on 127.0.0.1 (COOP/COEP headers) until Ctrl-C."),
    port: int = typer.Option(8000, help="Port for --serve (0: any free port)."),
    data: Optional[Path] = typer.Option(
        None,
        "--data",
        help="Held-out images for the page (a dataset name, IDX "
        "folder or .npz): its test split, with labels (default: the bundle's parity.npz).",
    ),
    examples: int = typer.Option(64, help="How many held-out images the site keeps (1..1000)."),
) -> None:
    """Write a static site that samples, decodes and reconstructs with the bundle in the browser."""
    from vaedge.errors import InputError
    from vaedge.web.serve import check_port
    from vaedge.web.site import build_site, is_site

    check_port(port)
    if serve:  # from here on, so that `kill` while the site is built also removes a temporary site
        signal.signal(signal.SIGTERM, _interrupt)
    if not serve and out is None:
        raise InputError("give --out SITE to write the site, or --serve to serve it")
    if serve and out is None and is_site(source):
        _serve(source, port)
        return
    if not 1 <= examples <= 1000:
        raise InputError(f"--examples must be in 1..1000, got {examples}")
    held_out = None
    if data is not None:
        from vaedge.explain.held_out import read_held_out
        from vaedge.runtime.manifest import read_manifest

        held_out = read_held_out(data, read_manifest(source).image_shape, examples)
    with tempfile.TemporaryDirectory(prefix="vaedge-site-") as scratch:
        site = build_site(
            source,
            out or Path(scratch) / "site",
            ort_web=ort_web,
            precisions=precision,
            force=force,
            held_out=held_out,
            examples=examples,
        )
        if out is not None:
            typer.echo(f"{describe(site)}: site written from {describe(source)}")
        if serve:
            _serve(site, port)


def _serve(site: Path, port: int) -> None:
    from vaedge.web.serve import make_server, url

    server = make_server(site, port)
    typer.echo(f"serving {describe(site)} at {url(server)} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
