"""The README's runnable shell blocks, run as written in a copy of the repository (a fresh clone's view).

A block after the Quick start marked with `<!-- runnable -->` runs with `.venv/bin` first on PATH (what
`. .venv/bin/activate` does), in a copy of the repository holding the test bundle at `bundles/fm`.
Everything the blocks create must be covered by `.gitignore`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- runnable -->"
BLOCK = re.compile(re.escape(MARKER) + r"\s*\n```(?:bash|sh|shell)\n(.*?)\n```", re.DOTALL)
NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "runs",
    "bundles",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".ruff_cache",
    "node_modules",
    "site",
    "*.egg-info",
    "build",
)


def runnable_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    after_quick_start = text[text.index("<!-- ci: test command -->") :]
    return BLOCK.findall(after_quick_start)


def test_readme_marks_the_runtime_examples_runnable():
    blocks = runnable_blocks()
    assert len(blocks) >= 2
    joined = "\n".join(blocks)
    for command in ("vaedge reconstruct", "vaedge interpolate", "vaedge encode", "vaedge sign"):
        assert command in joined
    assert "examples/" in joined  # on the images that ship with the repository


def test_readme_installs_from_a_clone():
    text = (ROOT / "README.md").read_text()
    assert not re.search(r"pip install '?vaedge", text), "vaedge is not on PyPI: installs are pip install -e"
    assert "pip install -e '.[openvino]'" in text and ". .venv/bin/activate" in text


@pytest.mark.parametrize("index", range(len(runnable_blocks())))
def test_readme_block_runs_as_written(index, bundle, tmp_path):
    clone = tmp_path / "clone"
    shutil.copytree(ROOT, clone, ignore=NOT_COPIED)
    shutil.copytree(bundle, clone / "bundles" / "fm")
    (clone / ".venv").symlink_to(Path(sys.executable).parent.parent)
    before = {p.relative_to(clone) for p in clone.rglob("*")}
    env = {**os.environ, "PATH": f"{clone / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    block = runnable_blocks()[index]
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"{block}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr
    made = sorted(
        str(p.relative_to(clone))
        for p in clone.rglob("*")
        if p.relative_to(clone) not in before and not str(p.relative_to(clone)).startswith("bundles/")
    )
    assert made, "the block wrote nothing"
    ignored = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(made),
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert sorted(ignored) == made, f"not covered by .gitignore: {sorted(set(made) - set(ignored))}"
