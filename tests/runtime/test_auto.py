"""`backend="auto"`: a real installed engine per batch size, measured once into a per-user cache."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from vaedge import runtime
from vaedge.cli import app
from vaedge.runtime.auto import BATCHES, cache_path
from vaedge.runtime.backends import installed_backends

runner = CliRunner()
FP32_GATE = 1e-5


@pytest.fixture
def user_cache(tmp_path, monkeypatch):
    """A fresh XDG_CACHE_HOME: the engine cache file `--backend auto` must use."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "vaedge" / "engines.json"


def bundle_files(bundle) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in bundle.iterdir()}


def test_auto_picks_an_installed_engine_that_agrees_with_forcing_it(bundle, user_cache):
    before = bundle_files(bundle)
    generator = runtime.load(bundle)
    installed = {b.name for b in installed_backends()}
    picks = generator.decoder.choice.as_dict()["picks"]
    assert set(picks.values()) <= installed and generator.backend == "auto"
    assert all(name in generator.engine for name in picks.values()) and "img/s" in generator.engine
    z = np.random.default_rng(3).standard_normal((max(BATCHES), generator.latent_dim)).astype(np.float32)
    for n in BATCHES:
        auto = generator.decode(z[:n])
        assert generator.decoder.last == picks[str(n)]
        forced = runtime.load(bundle, backend=picks[str(n)]).decode(z[:n])
        assert np.abs(auto - forced).max() <= FP32_GATE, n
    assert user_cache.is_file() and cache_path() == user_cache
    assert bundle_files(bundle) == before  # nothing written inside the (possibly signed) bundle


def test_the_measurement_is_cached_per_user_and_keyed_by_the_bundle(bundle, user_cache):
    first = runtime.load(bundle)
    assert "measured" in first.engine
    entries = json.loads(user_cache.read_text())["entries"]
    manifest_sha = json.loads((bundle / "vaedge.json").read_text())["manifest_sha256"]
    assert [e["key"]["manifest_sha256"] for e in entries] == [manifest_sha]
    assert entries[0]["key"]["cpu"] and set(entries[0]["key"]["engines"]) == set(entries[0]["img_per_s"])
    second = runtime.load(bundle)
    assert "cached" in second.engine
    assert second.decoder.choice.speeds == first.decoder.choice.speeds
    assert second.decoder.engines == {} and second.encoder.engines == {}  # opened on first use
    second.sample(64, seed=0)
    assert list(second.decoder.engines) == [second.decoder.choice.pick(64)] and second.encoder.engines == {}


def test_the_files_named_are_those_that_ran_whether_measured_or_cached(bundle, user_cache):
    """A measured process keeps every engine it measured that wins some batch; the files a report names
    (vaedge evaluate's "file") are those that ran, the same as a cached process names."""
    z = np.zeros((1, 2), np.float32)
    names = []
    for expected in ("measured", "cached"):
        generator = runtime.load(bundle)
        assert expected in generator.engine
        generator.decode(z)
        ran = generator.decoder.choice.pick(1)
        assert generator.decoder.name == generator.decoder.engines[ran].name
        names.append(generator.decoder.name)
    assert names[0] == names[1]


NEGATIVE_SPEED = '{"entries": [{"key": {}, "img_per_s": {"onnx": {"1": -1}}}]}'


@pytest.mark.parametrize("corrupt", ['{"entries": [{"key": 1', NEGATIVE_SPEED, "\xff\xfe"])
def test_a_corrupt_cache_file_is_ignored_with_one_line_and_rewritten(bundle, user_cache, corrupt):
    user_cache.parent.mkdir(parents=True)
    user_cache.write_text(corrupt)
    script = "import sys; from vaedge import runtime; print(runtime.load(sys.argv[1]).engine)"
    result = subprocess.run([sys.executable, "-c", script, str(bundle)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") == 1 and "ignoring the engine cache" in result.stderr, result.stderr
    assert "measured" in result.stdout
    assert json.loads(user_cache.read_text())["entries"]  # rewritten, valid


@pytest.mark.parametrize(
    "backend, says", [("onnx", "CPUExecutionProvider"), ("tflite", "LiteRT"), ("openvino", "OpenVINO")]
)
def test_backend_forces_one_engine(bundle, user_cache, tmp_path, backend, says):
    if backend not in {b.name for b in installed_backends()}:
        pytest.skip(f"{backend} is not installed")
    result = runner.invoke(
        app,
        ["generate", str(bundle), "--n", "3", "--seed", "0", "--backend", backend, "--out", str(tmp_path / "g.png")],
    )
    assert result.exit_code == 0, result.output
    assert says in result.output
    assert not user_cache.exists()  # a forced engine is not measured
    assert runtime.load(bundle, backend=backend).engine == f"{backend} (forced)"


def test_info_says_what_auto_picks_and_why(bundle, user_cache):
    first = runner.invoke(app, ["info", str(bundle), "--json", "--precision", "int8"])
    assert first.exit_code == 0 and "not measured" in json.loads(first.output)["engine"]["text"], first.output
    assert not user_cache.exists()  # info alone never times engines
    result = runner.invoke(app, ["info", str(bundle), "--json", "--precision", "int8", "--engine"])
    assert result.exit_code == 0, result.output
    engine = json.loads(result.output)["engine"]
    assert engine["precision"] == "int8" and set(engine["picks"]) == {str(b) for b in BATCHES}
    assert all(len(speeds) == len(BATCHES) and min(speeds.values()) > 0 for speeds in engine["img_per_s"].values())


def test_near_equal_engines_give_a_stable_pick_and_a_clear_winner_still_wins():
    """Two runs on a quiet machine measure near-equal engines a few per cent apart either way; the pick
    must not follow that noise. A gap larger than TIE must."""
    from vaedge.runtime.auto import TIE, Choice

    for noise in (-0.5 * TIE, 0.5 * TIE):
        speeds = {"openvino": {b: 1000.0 * (1 + noise) for b in BATCHES}, "onnx": {b: 1000.0 for b in BATCHES}}
        assert Choice("fp32", speeds, cached=False).pick(64) == "onnx"
    speeds = {"openvino": {b: 1000.0 * (1 + 3 * TIE) for b in BATCHES}, "onnx": {b: 1000.0 for b in BATCHES}}
    assert Choice("fp32", speeds, cached=False).winners == ["openvino"]


def test_measure_times_every_engine_at_every_batch_in_interleaved_rounds(bundle):
    """Real engines, briefly: every engine gets a positive figure at every batch size."""
    from vaedge.runtime.auto import measure
    from vaedge.runtime.backends import REGISTRY, open_role
    from vaedge.runtime.manifest import read_manifest
    from vaedge.runtime.options import EngineOptions

    manifest = read_manifest(bundle)
    engines = {
        row.name: open_role(manifest, "decoder", EngineOptions(row.name))
        for row in installed_backends()
        if row.name in ("onnx", "tflite") and row.name in REGISTRY
    }
    speeds = measure(engines, manifest.latent_dim, rounds=2, slice_s=0.01)
    assert set(speeds) == set(engines) and all(sorted(v) == list(BATCHES) for v in speeds.values())
    assert all(s > 0 for v in speeds.values() for s in v.values())
