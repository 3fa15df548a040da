"""TF_CONFIG from strangers reaches the terminal as data: addresses, job names and task types holding the
escapes, controls, forged lines and bidi marks of tests/runtime/test_hostile_text.py are refused in one line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.runtime.test_hostile_text import PAYLOADS, clean
from vaedge.cli import app

pytestmark = pytest.mark.reliability
runner = CliRunner()


@pytest.mark.parametrize("payload", list(PAYLOADS))
@pytest.mark.parametrize("where", ["worker address", "chief address", "job name", "task type"])
def test_tf_config_text_is_printed_as_data(tmp_path, payload, where, reliability):
    from vaedge.train.cluster import parse_tf_config

    evil = PAYLOADS[payload]
    config = {
        "cluster": {"chief": ["localhost:2222"], "worker": ["localhost:2223"]},
        "task": {"type": "chief", "index": 0},
    }
    if where == "worker address":
        config["cluster"]["worker"] = [f"{evil}:2223"]
    elif where == "chief address":
        config["cluster"]["chief"] = [f"127.0.0.1{evil}:2222"]
    elif where == "job name":
        config["cluster"][evil] = ["localhost:2224"]
    else:
        config["task"]["type"] = evil
    with pytest.raises(ValueError) as refused:
        parse_tf_config(json.dumps(config))
    result = runner.invoke(
        app,
        ["train", "--strategy", "multiworker", "--out", str(tmp_path / "run"), "--epochs", "1"],
        env={"TF_CONFIG": json.dumps(config, ensure_ascii=False)},
    )
    assert result.exit_code == 1 and result.output.count("\n") == 1 and clean(result.output), result.output
    assert clean(str(refused.value)), str(refused.value)
    reliability(
        "names as data: escapes, newlines, bidi marks in TF_CONFIG addresses and names",
        "refused in one line",
    )
