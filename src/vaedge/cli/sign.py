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
    password_file: Optional[Path] = typer.Option(
        None, help="File whose first line is the key's password (never give a password on the command line)."
    ),
) -> None:
    """Check the bundle's hashes, then write vaedge.sig covering every file; verify with --public-key."""
    from vaedge.runtime.manifest import check_files, read_manifest
    from vaedge.runtime.signature import sign_bundle

    check_files(read_manifest(bundle))  # never sign a bundle that is already corrupt
    password = key_password(password_env, password_file)
    path = sign_bundle(bundle, key, password)
    typer.echo(f"{describe(path)}: signed every file of {describe(bundle)} with {describe(key)}")


def key_password(env: str | None, file: Path | None) -> bytes | None:
    """The private key's password from an environment variable or a file (first line), or None."""
    from vaedge.errors import InputError
    from vaedge.io.files import read_regular

    if env and file:
        raise InputError("give --password-env or --password-file, not both")
    if env:
        if env not in os.environ:
            raise InputError(f"--password-env {describe(env)}: no such environment variable")
        return os.environb.get(os.fsencode(env)) or None
    if file:
        lines = read_regular(file, 4096, InputError).splitlines()
        return lines[0] if lines and lines[0] else None
    return None
