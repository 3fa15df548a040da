"""`vaedge micro`: the generated C/C++ compiles with the host's g++, embeds exactly the manifest's bytes,
and holds the measured arena, the I/O quantization and exactly the graph's ops."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from vaedge.cli import app
from vaedge.errors import OutputError
from vaedge.runtime.manifest import read_manifest
from vaedge.runtime.micro_source import write_micro_sources

MAIN = """#include <cstdio>
#include <cstdint>
#include "vaedge_{role}_model.h"
int main() {{
  if (reinterpret_cast<std::uintptr_t>(vaedge_{role}_model) % 16 != 0) return 3;
  static_assert(kVaedge{camel}ArenaSize > 0, "arena");
  std::fwrite(vaedge_{role}_model, 1, vaedge_{role}_model_len, stdout);
  return 0;
}}
"""


@pytest.fixture(scope="module")
def sources(micro_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("micro") / "src"
    write_micro_sources(micro_bundle, out)
    return out


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs the host C++ compiler (g++)")
def test_generated_sources_compile_and_embed_the_manifest_bytes(micro_bundle, sources, tmp_path):
    manifest = read_manifest(micro_bundle)
    for role, graph in manifest.micro.items():
        main = tmp_path / f"{role}_main.cc"
        main.write_text(MAIN.format(role=role, camel=role.capitalize()))
        program = tmp_path / role
        subprocess.run(
            [
                "g++",
                "-std=c++17",
                "-Wall",
                "-Werror",
                "-I",
                str(sources),
                str(main),
                str(sources / f"vaedge_{role}_model.cc"),
                "-o",
                str(program),
            ],
            check=True,
            timeout=600,
        )
        embedded = subprocess.run([str(program)], capture_output=True, check=True, timeout=60).stdout
        expected = next(f for f in manifest.files if f.path == graph.file)
        assert hashlib.sha256(embedded).hexdigest() == expected.sha256
        assert len(embedded) == expected.size == graph.flash_bytes


def test_header_holds_the_arena_quantization_and_resolver_the_ops(micro_bundle, sources):
    from vaedge.runtime.tflm_backend import MICRO_OPS

    manifest = read_manifest(micro_bundle)
    for role, graph in manifest.micro.items():
        camel = role.capitalize()
        header = (sources / f"vaedge_{role}_model.h").read_text()
        assert f"constexpr size_t kVaedge{camel}ArenaSize = {graph.arena_bytes};" in header
        file = next(f for f in manifest.files if f.path == graph.file)
        for tensor, q in file.quantization.items():
            name = "".join(part.capitalize() for part in tensor.split("_"))
            scale = float(re.search(rf"kVaedge{camel}{name}Scale = ([0-9.e-]+)f;", header).group(1))
            assert scale == pytest.approx(q["scale"], rel=1e-6)
            assert f"kVaedge{camel}{name}ZeroPoint = {q['zero_point']};" in header
        resolver = (sources / f"vaedge_{role}_resolver.h").read_text()
        ops = list(dict.fromkeys(graph.ops))
        assert f"tflite::MicroMutableOpResolver<{len(ops)}>" in resolver
        assert re.findall(r"resolver\.(Add\w+)\(\)", resolver) == [MICRO_OPS[op] for op in ops]
    assert "kVaedgeDecoderZScale" in (sources / "README.md").read_text()


def test_refuses_a_folder_it_did_not_write_and_replaces_its_own_with_force(micro_bundle, sources, tmp_path):
    foreign = tmp_path / "firmware"
    foreign.mkdir()
    (foreign / "main.c").write_text("int main(void) { return 0; }\n")
    with pytest.raises(OutputError, match="not a micro source folder made by vaedge"):
        write_micro_sources(micro_bundle, foreign, force=True)
    assert (foreign / "main.c").exists() and not (foreign / "README.md").exists()
    result = CliRunner().invoke(app, ["micro", str(micro_bundle), "--out", str(sources)])
    assert result.exit_code != 0 and "pass --force" in result.output
    result = CliRunner().invoke(app, ["micro", str(micro_bundle), "--out", str(sources), "--force"])
    assert result.exit_code == 0, result.output


def test_a_bundle_without_micro_graphs_is_refused_in_one_line(micro_bundle, tmp_path):
    from tests.runtime.edit_bundle import copy_of, edit_manifest

    def without_micro(manifest):
        del manifest["micro"]
        manifest["export_config"]["micro"] = False

    bundle = copy_of(micro_bundle, tmp_path)  # as exported without --micro
    edit_manifest(bundle, without_micro)
    assert read_manifest(bundle).micro == {}
    result = CliRunner().invoke(app, ["micro", str(bundle), "--out", str(tmp_path / "src")])
    assert result.exit_code != 0
    assert "export with --micro" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_forged_micro_section_is_refused_before_anything_is_written(micro_bundle, tmp_path):
    import json

    from vaedge.errors import BundleError
    from vaedge.runtime.manifest import MANIFEST, manifest_digest

    copy = tmp_path / "bundle"
    shutil.copytree(micro_bundle, copy)
    raw = json.loads((copy / MANIFEST).read_text())
    raw["micro"]["graphs"]["decoder"]["ops"] = ["TILE"]
    raw["manifest_sha256"] = manifest_digest(raw)
    (copy / MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(BundleError, match="TILE"):
        write_micro_sources(copy, tmp_path / "src")
    assert not (tmp_path / "src").exists()
