"""Copies of a bundle to damage, and manifest edits as an attacker who knows the format makes them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from vaedge.runtime.manifest import manifest_digest


def copy_of(bundle, tmp_path) -> Path:
    target = tmp_path / "b"
    shutil.copytree(bundle, target)
    return target


def edit_manifest(root: Path, edit, reseal: bool = True) -> None:
    """Apply `edit(manifest dict)`; re-sealing it reaches the checks behind the manifest's own checksum."""
    manifest = json.loads((root / "vaedge.json").read_text())
    edit(manifest)
    if reseal:
        manifest["manifest_sha256"] = manifest_digest(manifest)
    (root / "vaedge.json").write_text(json.dumps(manifest))


def entry(manifest: dict, name: str) -> dict:
    """The manifest's entry for the file `name`."""
    return next(f for f in manifest["files"] if f["path"] == name)


def assert_refused(target: Path, message: str, tmp_path: Path) -> None:
    """`runtime.load` raises BundleError matching `message`; `vaedge generate` says one line with no terminal
    escapes, exits 1 and writes nothing."""
    import pytest
    from typer.testing import CliRunner

    from vaedge import runtime
    from vaedge.cli import app
    from vaedge.errors import BundleError

    with pytest.raises(BundleError, match=message):
        runtime.load(target)
    out = tmp_path / "never.png"
    result = CliRunner().invoke(app, ["generate", str(target), "--n", "4", "--out", str(out)])
    assert result.exit_code == 1 and not out.exists(), result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output and "\x1b" not in result.output, result.output
