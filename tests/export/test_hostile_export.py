"""Export never destroys what it reads or what vaedge did not make; Keras files are checked before Keras sees them."""

from __future__ import annotations

import io
import zipfile

import pytest
from typer.testing import CliRunner

from vaedge.cli import app

runner = CliRunner()
pytestmark = pytest.mark.reliability


def test_export_onto_its_own_run_is_refused(trained_run, reliability):
    before = sorted(p.name for p in trained_run.iterdir())
    result = runner.invoke(app, ["export", str(trained_run), "--out", str(trained_run), "--force"])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert sorted(p.name for p in trained_run.iterdir()) == before
    reliability("data loss: export RUN --out RUN --force", "refused, the run intact")


def test_export_force_refuses_a_folder_that_is_not_a_bundle(trained_run, tmp_path, reliability):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me")
    result = runner.invoke(app, ["export", str(trained_run), "--out", str(mine), "--force"])
    assert result.exit_code == 1 and "is not a bundle made by vaedge" in result.output, result.output
    assert (mine / "todo.txt").read_text() == "keep me"
    reliability("data loss: export --force on a folder of the user's own files", "refused, every file intact")


def test_keras_zip_declaring_a_huge_config_is_refused(tmp_path, reliability):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("config.json", "w", force_zip64=True) as member:
            for _ in range(2048):  # 2 GiB of spaces: a few MB compressed
                member.write(b" " * (1 << 20))
    (tmp_path / "enc.keras").write_bytes(bomb.getvalue())
    (tmp_path / "dec.keras").write_bytes(bomb.getvalue())
    result = runner.invoke(
        app,
        [
            "export",
            "--encoder",
            str(tmp_path / "enc.keras"),
            "--decoder",
            str(tmp_path / "dec.keras"),
            "--out",
            str(tmp_path / "b"),
        ],
    )
    assert result.exit_code == 1 and "declares" in result.output and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "b").exists()
    reliability("bomb: .keras zip declaring a 2 GiB config.json", "refused before Keras reads it")
