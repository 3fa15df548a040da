"""The package as a user gets it: the README's Python example from the clone's root, and the wheel."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("train", "export", "runtime")


def readme_python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (example,) = [b for b in blocks if "from vaedge import runtime" in b]
    return example


def test_readme_python_example_runs_from_the_repository_root(bundle):
    """A folder in the root named like the package would shadow the installed one; this runs from there."""
    example = readme_python_example().replace('"bundles/quickstart"', repr(str(bundle)))
    example += "\nassert images.shape == (8, 28, 28, 1) and strip.shape[0] == 10 and grid.shape[0] == 400\n"
    result = subprocess.run([sys.executable, "-c", example], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def source_modules() -> set[str]:
    """Every module the source tree holds, by the name it is installed under."""
    names = {".".join(p.relative_to(ROOT / "src").with_suffix("").parts) for p in (ROOT / "src/vaedge").rglob("*.py")}
    for stage in STAGES:
        names |= {
            ".".join(("vaedge", *p.relative_to(ROOT).with_suffix("").parts)) for p in (ROOT / stage).rglob("*.py")
        }
    return {n.removesuffix(".__init__") for n in names}


def test_the_wheel_holds_every_module_and_each_imports_from_a_clean_venv(tmp_path):
    # pip builds in the source tree (build/, *.egg-info): build a copy, so the checkout stays as it was
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "build", "node_modules", "__pycache__", "*.egg-info", "runs", "bundles", "site"
        ),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("vaedge-*.whl")
    listed = zipfile.ZipFile(wheel).namelist()
    in_wheel = {n.removesuffix(".py").replace("/", ".").removesuffix(".__init__") for n in listed if n.endswith(".py")}
    assert in_wheel == source_modules()
    assert any(n.startswith("vaedge/web/static/") for n in listed)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin/python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, timeout=300
    )
    # The dependencies come from this interpreter's site-packages, added as plain paths: no .pth in them
    # runs, so this checkout's editable install cannot leak in.
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "deps.pth").write_text("\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n")
    modules = sorted(m for m in source_modules() if not m.endswith("__main__"))  # that one runs the CLI
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({site!r}), (name, module.__file__)\n"
        "print(len(sys.modules))\n"
    )
    result = subprocess.run(
        [python, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sysconfig.get_paths()["purelib"] not in site
