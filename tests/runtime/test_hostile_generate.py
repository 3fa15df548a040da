"""`vaedge generate --n` too large for memory: refused in one line before any image is decoded."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.vaedge_command import one_line
from vaedge.cli import app

runner = CliRunner()
pytestmark = pytest.mark.reliability


def test_generate_memory_check_counts_the_real_peak(bundle, tmp_path, reliability):
    """n whose float32 images take a third of the memory check's budget: refused (the grid and PNG
    need about 4.5 times the image array), before any image is made."""
    from vaedge.runtime.inputs import MEMORY_BYTES

    n = (MEMORY_BYTES // 2) // 3 // (28 * 28 * 4)
    result = runner.invoke(app, ["generate", str(bundle), "--n", str(n), "--out", str(tmp_path / "x.png")])
    assert one_line(result) and "GiB" in result.output and not (tmp_path / "x.png").exists(), result.output
    reliability(
        "memory: generate --n whose grid and PNG would not fit",
        "refused before decoding",
    )
