"""Numbers from strangers for `vaedge bench`: every numeric option at its extremes is one line, nothing written."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.vaedge_command import one_line
from vaedge.cli import app

runner = CliRunner()
pytestmark = pytest.mark.reliability


@pytest.mark.parametrize(
    "args",
    [
        ["--threads", "1000000"],
        ["--threads", "0"],
        ["--seconds", "inf"],
        ["--seconds", "nan"],
        ["--seconds", "-1"],
        ["--seconds", "0"],
        ["--seconds", "1e9"],
        ["--cold-starts", "0"],
        ["--cold-starts", "1000"],
    ],
)
def test_bench_numbers_at_their_extremes(bundle, tmp_path, args, reliability):
    result = runner.invoke(app, ["bench", str(bundle), "--json", str(tmp_path / "b.json"), *args])
    assert one_line(result) and not (tmp_path / "b.json").exists(), result.output
    reliability(
        "bad input: bench --threads, --seconds, --cold-starts out of range (inf, nan, huge)",
        "one line, nothing written",
    )
