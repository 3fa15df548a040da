"""Text from strangers reaches the terminal as data: every string of a manifest, holding OSC/CSI escapes,
C1 controls, newlines that would forge a line, bidi overrides (TF_CONFIG's: tests/train/test_hostile_tf_config.py)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from vaedge.cli import app
from vaedge.runtime.manifest import manifest_digest

pytestmark = pytest.mark.reliability
runner = CliRunner()
PAYLOADS = {
    "OSC title": "\x1b]0;pwned\x07",
    "CSI clear": "\x1b[2J\x1b[31m",
    "C1 CSI": "\x9b31m",
    "forged line": "ok\nerror: forged line",
    "bidi override": "abc\u202egnp.exe",
    "line separator": "a\u2028b",
    "carriage return": "x\rDONE",
    "rich markup": "[red]red[/red]",
}
RAW = ("\x1b", "\x9b", "\u202e", "\u2028", "\r", "\x07")


def field(path: tuple) -> tuple:
    """A string's field: its path with list positions as "*" (a file entry keeps its own: each format prints
    its files its own way). The validation section lists hundreds of checks through the same fields."""
    return tuple("*" if isinstance(k, int) and not (i == 1 and path[0] == "files") else k for i, k in enumerate(path))


def string_leaves(node, path=()):
    """Paths of every string value in a JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from string_leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from string_leaves(value, (*path, i))
    elif isinstance(node, str):
        yield path


def assign(tree, path, value):
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value


def clean(output: str) -> bool:
    return not any(c in output for c in RAW) and "\nerror: forged" not in output


@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_every_manifest_string_is_printed_as_data(bundle, tmp_path, payload, reliability):
    original = json.loads((bundle / "vaedge.json").read_text())
    # every string field outside the file list (a list's items through their first), and every string of one
    # file entry of each format
    firsts = {
        next(i for i, f in enumerate(original["files"]) if f["format"] == kind) for kind in ("onnx", "tflite", "npz")
    }
    leaves = [p for p in string_leaves(original) if p != ("manifest_sha256",) and (p[0] != "files" or p[1] in firsts)]
    firsts_of_fields: dict = {}
    for path in leaves:  # each field once, at its first place
        firsts_of_fields.setdefault(field(path), path)
    leaves = list(firsts_of_fields.values())
    assert ("sampling", "formula") in leaves and len(leaves) > 20
    k = list(PAYLOADS).index(payload)  # each payload tries every 8th string, so each string meets one
    leaves = [("sampling", "formula"), *leaves[k :: len(PAYLOADS)]]
    target = tmp_path / "b"
    shutil.copytree(bundle, target)
    for path in leaves:
        manifest = json.loads(json.dumps(original))
        assign(manifest, path, PAYLOADS[payload])
        manifest["manifest_sha256"] = manifest_digest(manifest)
        (target / "vaedge.json").write_text(json.dumps(manifest))
        for command in (["info", str(target)], ["info", str(target), "--json"]):
            result = runner.invoke(app, command)
            assert clean(result.output), (path, command, result.output)
            if result.exit_code:
                assert result.output.count("\n") == 1, (path, result.output)
        reliability(
            "names as data: a hostile string in any manifest field (re-sealed), vaedge info",
            "escaped or refused in one line",
        )
