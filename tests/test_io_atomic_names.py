"""Output names near the file system's 255-byte NAME_MAX: a legal name writes, its temporary name fits too."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from vaedge.io import atomic

LONG_NAMES = ["a" * 246 + ".png", "é" * 123 + ".png", "b" * 255]  # 250, 250 and 255 bytes


@pytest.mark.parametrize("name", LONG_NAMES)
def test_a_legal_long_name_is_written_and_nothing_hidden_is_left(tmp_path, name):
    assert len(os.fsencode(name)) <= 255
    atomic.write_bytes(tmp_path / name, b"data")
    atomic.write_json(tmp_path / name, {"a": 1})
    assert sorted(os.listdir(tmp_path)) == [name] and (tmp_path / name).read_text().startswith("{")


@pytest.mark.parametrize("name", LONG_NAMES)
def test_a_long_directory_name_is_staged_published_and_replaced(tmp_path, name):
    for _ in range(2):  # the second time swaps the first out through an `.old` sibling
        with atomic.staged_directory(tmp_path / name, replace=True, owned=lambda p: True, what="folder") as stage:
            atomic.write_bytes(stage / "x", b"1")
    assert os.listdir(tmp_path) == [name] and (tmp_path / name / "x").read_bytes() == b"1"


def test_a_long_temporary_sibling_keeps_its_suffix(tmp_path):
    with atomic.temporary_sibling(tmp_path / ("c" * 250), suffix=".keras") as tmp:
        tmp.write_bytes(b"1")
        assert tmp.name.endswith(".keras") and len(os.fsencode(tmp.name)) <= 255
    assert os.listdir(tmp_path) == []


@pytest.mark.reliability
def test_generate_writes_a_250_character_output_name(tmp_path, reliability):
    from tests.runtime.tiny_bundle import make_bundle
    from vaedge.cli import app

    bundle = make_bundle(tmp_path / "bundle")
    out = tmp_path / ("g" * 246 + ".png")
    result = CliRunner().invoke(app, ["generate", str(bundle), "--n", "4", "--backend", "onnx", "--out", str(out)])
    assert result.exit_code == 0 and out.is_file(), result.output
    assert sorted(os.listdir(tmp_path)) == sorted(["bundle", out.name])
    reliability("a 250-byte output name (generate --out)", "written, nothing hidden left")
