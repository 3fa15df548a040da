"""A forged micro section never reaches C: what `vaedge micro` writes compiles (g++ -Wall -Werror), or
nothing is written and the CLI says one line."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from tests.runtime.edit_bundle import copy_of, edit_manifest, entry

MAIN = '#include "vaedge_decoder_model.h"\nint main() {{ return kVaedgeDecoderImageScale > {bound} ? 0 : 1; }}\n'


def _forge_scale(micro_bundle, tmp_path, scale: float):
    root = copy_of(micro_bundle, tmp_path)
    graph = json.loads((root / "vaedge.json").read_text())["micro"]["graphs"]["decoder"]["file"]
    edit_manifest(root, lambda m: entry(m, graph)["quantization"]["image"].update(scale=scale))
    return root


# 1e-50: the C literal underflows (g++ -Werror refuses it); 1e-39: a subnormal a board's FPU may flush to zero
@pytest.mark.reliability
@pytest.mark.parametrize("scale", [1e-50, 1e-39])
def test_a_scale_below_float32s_normal_range_is_refused_before_anything_is_written(
    micro_bundle, tmp_path, scale, reliability
):
    from vaedge.cli import app

    root, out = _forge_scale(micro_bundle, tmp_path, scale), tmp_path / "sources"
    result = CliRunner().invoke(app, ["micro", str(root), "--out", str(out)])
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "scale" in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no staging folder left beside it
    reliability("forged micro section: a scale below float32's normal range", "one line, no C written")


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs the host C++ compiler (g++)")
def test_the_smallest_normal_scale_still_compiles(micro_bundle, tmp_path):
    from vaedge.runtime.micro_source import write_micro_sources

    root, out = _forge_scale(micro_bundle, tmp_path, 1.2e-38), tmp_path / "sources"
    write_micro_sources(root, out)
    (tmp_path / "main.cc").write_text(MAIN.format(bound="0.0f"))
    command = ["g++", "-std=c++17", "-Wall", "-Werror", "-I", str(out), str(tmp_path / "main.cc")]
    subprocess.run([*command, str(out / "vaedge_decoder_model.cc"), "-o", str(tmp_path / "a")], check=True)
    assert subprocess.run([str(tmp_path / "a")]).returncode == 0
