"""`vaedge sign`: sign a bundle with an elliptic-curve private key (OpenSSF model-signing)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from vaedge.cli.bundle_options import BUNDLE
from vaedge.cli.errors import reported
from vaedge.io.files import describe


@reported
def sign(
    bundle: Path = BUNDLE,
    key: Path = typer.Option(..., "--key", help="EC private key, PEM (e.g. openssl ecparam -name prime256v1 -genkey)."),
    password_env: Optional[str] = typer.Option(None, help="Environment variable holding the key's password."),
) -> None:
    """Check the bundle's hashes, then write vaedge.sig covering every file; verify with --public-key."""
    from vaedge.runtime.manifest import check_files, read_manifest
    from vaedge.runtime.signature import sign_bundle

    check_files(read_manifest(bundle))  # never sign a bundle that is already corrupt
    password = os.environ.get(password_env) if password_env else None
    path = sign_bundle(bundle, key, password)
    typer.echo(f"{describe(path)}: signed every file of {describe(bundle)} with {describe(key)}")
