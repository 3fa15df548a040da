"""The dependency lines of docs/architecture.md, checked in fresh processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOADED = """
import sys, importlib
importlib.import_module(sys.argv[1])
engines = {"tensorflow", "onnxruntime", "keras", "openvino", "ai_edge_litert"}
heavy = sorted({m.split(".")[0] for m in sys.modules} & engines)
print("HEAVY", heavy)
"""


@pytest.mark.parametrize(
    "module",
    ["vaedge.train.config", "vaedge.export.config", "vaedge.io.images", "vaedge.runtime.manifest", "vaedge.cli"],
)
def test_configs_and_base_load_no_engine(module):
    result = subprocess.run([sys.executable, "-c", LOADED, module], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HEAVY []" in result.stdout, result.stdout


@pytest.mark.parametrize(
    "folder, forbidden",
    [
        ("train", "vaedge.runtime"),
        ("train", "vaedge.export"),
        ("runtime", "vaedge.export"),
        ("runtime", "vaedge.train"),
        ("src/vaedge/io", "vaedge.runtime"),
        ("src/vaedge/io", "vaedge.train"),
    ],
)
def test_imports_point_one_way(folder, forbidden):
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / folder).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if line.lstrip().startswith(("import ", "from ")) and forbidden in line
    ]
    assert offenders == []
