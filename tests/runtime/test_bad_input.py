"""Every bad input to the runtime gets a typed error; on the CLI one line, exit 1, nothing written."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

from tests.runtime.edit_bundle import assert_refused, copy_of, edit_manifest, entry
from vaedge import runtime
from vaedge.cli import app
from vaedge.errors import InputError, VaedgeError

runner = CliRunner()


@pytest.fixture(scope="module")
def generator(bundle):
    return runtime.load(bundle)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda g: g.decode(np.zeros((3, 5), np.float32)), r"z must have shape \(N, 2\)"),
        (lambda g: g.decode(np.array([[np.nan, 0.0]])), "NaN or infinite"),
        (lambda g: g.decode(np.zeros((0, 2))), "empty"),
        (lambda g: g.decode(np.array([[1e300, 0.0]])), "beyond float32 range"),
        (lambda g: g.decode(np.array([["a", "b"]])), "real numbers"),
        (lambda g: g.encode(np.zeros((2, 28, 28, 3), np.float32)), r"images must have shape \(N, 28, 28, 1\)"),
        (lambda g: g.encode(np.zeros((2, 32, 32, 1), np.float32)), r"images must have shape"),
        (lambda g: g.encode(np.full((1, 28, 28, 1), 300, np.int32)), "0..255"),
        (lambda g: g.encode(np.full((1, 28, 28, 1), -1, np.int16)), "0..255"),
        (lambda g: g.encode(np.full((1, 28, 28, 1), 1.5, np.float32)), r"in \[0, 1\]"),
        (lambda g: g.encode(np.full((1, 28, 28, 1), np.inf, np.float32)), "NaN or infinite"),
        (lambda g: g.sample(0), "n must be a positive integer"),
        (lambda g: g.sample(-3), "n must be a positive integer"),
        (lambda g: g.sample(2.5), "n must be a positive integer"),
        (lambda g: g.sample(4, temperature=-1.0), "temperature must be a finite number >= 0"),
        (lambda g: g.sample(4, temperature=float("nan")), "temperature"),
        (lambda g: g.sample(4, seed=-1), "seed must be a non-negative integer"),
        (lambda g: g.interpolate(np.zeros(2), np.zeros(2), steps=0), "steps must be a positive integer"),
        (lambda g: g.interpolate(np.zeros(3), np.zeros(2)), r"z must have shape \(N, 2\)"),
        (lambda g: g.latent_grid(0), "size must be a positive integer"),
        (lambda g: g.latent_grid(8_388_568), "more than half of this machine.s"),
        (lambda g: g.sample(10**12), "more than half of this machine's"),
    ],
)
@pytest.mark.reliability
def test_bad_arguments_raise_input_error(generator, call, message, reliability):
    with pytest.raises(InputError, match=message):
        call(generator)
    reliability(
        "bad input: runtime API (shapes, dtypes, ranges, non-finite, empty, n, temperature, seed)",
        "InputError saying what was expected",
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backend": "torch"}, "backend must be one of onnx, tflite"),
        ({"precision": "int4"}, "precision must be one of"),
        ({"providers": ["NoSuchExecutionProvider"]}, "is not available"),
        ({"providers": "CPUExecutionProvider"}, "list of provider names"),
        ({"threads": 0}, "threads must be a positive integer"),
    ],
)
@pytest.mark.reliability
def test_bad_load_options(bundle, kwargs, message, reliability):
    with pytest.raises(InputError, match=message):
        runtime.load(bundle, **kwargs)
    reliability("bad input: unknown backend, precision or provider; bad threads", "InputError listing the choices")


@pytest.mark.reliability
def test_non_finite_graph_output_is_a_typed_error(tmp_path, reliability):
    pytest.importorskip("onnx")
    from tests.runtime.tiny_bundle import make_bundle

    generator = runtime.load(make_bundle(tmp_path / "log", decoder_op="Log"))  # log(z) is NaN for z < 0
    assert np.isfinite(generator.decode(np.ones((2, 2)))).all()
    with pytest.raises(InputError, match="decoder overflowed"):
        generator.decode(-np.ones((2, 2)))
    with pytest.raises(InputError, match="decoder overflowed"):
        generator.sample(64, seed=0)
    reliability("graph output not finite (decoder overflow)", "InputError, no NaN images returned")


def _set_path(name, new):
    def edit(manifest):
        entry(manifest, name)["path"] = new

    return edit


BUNDLE_FAULTS = {
    "flipped byte": (
        lambda b: b.joinpath("encoder.onnx").write_bytes(
            bytes([b.joinpath("encoder.onnx").read_bytes()[0] ^ 1]) + b.joinpath("encoder.onnx").read_bytes()[1:]
        ),
        "encoder.onnx: sha256",
    ),
    "truncated file": (
        lambda b: b.joinpath("decoder.onnx").write_bytes(b.joinpath("decoder.onnx").read_bytes()[:1000]),
        "decoder.onnx: size 1000",
    ),
    "missing file": (lambda b: b.joinpath("decoder.onnx").unlink(), "decoder.onnx: missing"),
    "extra file": (lambda b: b.joinpath("notes.txt").write_text("hi"), "not listed in the manifest: notes.txt"),
    "parent path": (
        lambda b: edit_manifest(b, _set_path("decoder.onnx", "../decoder.onnx")),
        "is not a plain file name in the bundle",
    ),
    "absolute path": (
        lambda b: edit_manifest(b, _set_path("decoder.onnx", "/etc/passwd")),
        "is not a plain file name in the bundle",
    ),
    "symlink out": (
        lambda b: (b.joinpath("decoder.onnx").unlink(), os.symlink("/etc/hostname", b / "decoder.onnx")),
        "decoder.onnx: is a symlink; only regular files are read",
    ),
    "format version": (
        lambda b: edit_manifest(b, lambda m: m.update(format_version=99)),
        "format_version 99 is not supported",
    ),
    "edited manifest": (
        lambda b: edit_manifest(b, lambda m: m.update(latent_dim=3), reseal=False),
        "manifest_sha256 .* does not match",
    ),
    "not json": (lambda b: b.joinpath("vaedge.json").write_text("{nope"), "not valid JSON"),
    "oversized manifest": (lambda b: b.joinpath("vaedge.json").write_text(" " * (2 << 20)), "more than the"),
    "no manifest": (lambda b: b.joinpath("vaedge.json").unlink(), "vaedge.json: missing"),
}


@pytest.mark.parametrize("fault", list(BUNDLE_FAULTS))
@pytest.mark.reliability
def test_bad_bundles_are_refused_naming_the_file(bundle, tmp_path, fault, reliability):
    damage, message = BUNDLE_FAULTS[fault]
    target = copy_of(bundle, tmp_path)
    damage(target)
    assert_refused(target, message, tmp_path)
    reliability(f"untrusted bundle: {fault}", "BundleError naming the file; CLI one line, exit 1, nothing written")


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "{b}", "--n", "0", "--out", "{o}"], "--n must be positive"),
        (["generate", "{b}", "--n", "4", "--temperature", "-1", "--out", "{o}"], "temperature"),
        (["generate", "{b}", "--n", "4", "--backend", "torch", "--out", "{o}"], "backend must be one of"),
        (["generate", "{b}", "--n", "4", "--provider", "NopeExecutionProvider", "--out", "{o}"], "is not available"),
        (["generate", "{b}/nothing", "--n", "4", "--out", "{o}"], "not a bundle directory"),
        (["reconstruct", "{b}", "{b}/missing.png", "--out", "{o}"], "no such file"),
        (["reconstruct", "{b}", "{b}/vaedge.json", "--out", "{o}"], "not an image, IDX or .npz"),
        (["reconstruct", "{b}", "{b}/parity.npz", "--limit", "0", "--out", "{o}"], "--limit must be at least 1"),
    ],
)
@pytest.mark.reliability
def test_cli_bad_input_is_one_line_and_writes_nothing(bundle, tmp_path, args, message, reliability):
    out = tmp_path / "out.png"
    result = runner.invoke(app, [a.format(b=bundle, o=out) for a in args])
    assert result.exit_code == 1, result.output
    assert message in result.output and result.output.count("\n") == 1 and not out.exists()
    reliability("bad input: CLI options and paths", "one line, exit 1, nothing written")


ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.uint8, np.int8, np.bool_]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=30),
)  # float elements include NaN and infinities by default


def api_case(generator, data, reliability):
    method = data.draw(st.sampled_from(["decode", "encode", "sample", "reconstruct", "interpolate"]))
    try:
        if method == "sample":
            out = generator.sample(
                data.draw(st.one_of(st.integers(-5, 40), st.floats(allow_nan=True), st.none(), st.text(max_size=2))),
                seed=data.draw(st.one_of(st.none(), st.integers(-3, 2**32))),
                temperature=data.draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2, 3))),
            )
        elif method == "interpolate":
            out = generator.interpolate(data.draw(ARRAYS), data.draw(ARRAYS), steps=data.draw(st.integers(-2, 12)))
        else:
            out = getattr(generator, method)(data.draw(ARRAYS))
    except VaedgeError as exc:
        reliability("fuzz: runtime API (random shapes, dtypes, values)", f"typed error ({type(exc).__name__})")
        return
    for array in out if isinstance(out, tuple) else (out,):
        assert array.dtype == np.float32 and np.isfinite(array).all()
    images = out[0] if method == "encode" else out
    if method != "encode":
        assert images.shape[1:] == (28, 28, 1) and images.min() >= 0 and images.max() <= 1
    reliability("fuzz: runtime API (random shapes, dtypes, values)", "valid output")


FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.reliability
@settings(max_examples=200, **FUZZ)
@given(data=st.data())
def test_public_api_gives_typed_errors_or_valid_outputs(generator, data, reliability):
    api_case(generator, data, reliability)


@pytest.mark.reliability_full
@settings(max_examples=10_000, **FUZZ)
@given(data=st.data())
def test_public_api_fuzz_10k(generator, data, reliability):
    api_case(generator, data, reliability)
