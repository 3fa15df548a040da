"""The TensorFlow-free runtime on a real exported bundle: determinism, backends, CLI, Keras agreement."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from vaedge import runtime
from vaedge.cli import app
from vaedge.errors import InputError
from vaedge.runtime.sampling import portable_eps

runner = CliRunner()

NO_TENSORFLOW = """
import sys, numpy as np
from vaedge import runtime
from vaedge.cli import main
g = runtime.load(sys.argv[1])
x = g.sample(5, seed=0)
g.reconstruct(x, seed=1); g.interpolate(x[0], x[1], 3); g.latent_grid(3); g.encode((x * 255).astype(np.uint8))
sys.argv = ["vaedge", "generate", sys.argv[1], "--n", "4", "--seed", "0", "--out", sys.argv[2]]
try:
    main()
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "tf_keras"))
print("LOADED", loaded)
"""


def test_runtime_never_imports_tensorflow(bundle, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", NO_TENSORFLOW, str(bundle), str(tmp_path / "g.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "LOADED []" in result.stdout and (tmp_path / "g.png").is_file()


@pytest.fixture(scope="module")
def generator(bundle):
    return runtime.load(bundle)


def test_seeds_temperature_and_returned_eps(generator):
    a, eps = generator.sample(9, seed=3, return_eps=True)
    assert a.shape == (9, 28, 28, 1) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, generator.sample(9, seed=3))
    assert not np.allclose(a, generator.sample(9, seed=4))
    # the portable stream (docs/eps-stream.md) replaced numpy's default_rng(3) here: same meaning, new numbers
    np.testing.assert_array_equal(eps, portable_eps(9, 2, 3))
    np.testing.assert_allclose(generator.decode(eps), a, atol=1e-6)
    cold, cold_eps = generator.sample(4, seed=3, temperature=0.5, return_eps=True)
    np.testing.assert_allclose(generator.decode(0.5 * cold_eps), cold, atol=1e-6)
    flat = generator.sample(3, seed=1, temperature=0.0)
    np.testing.assert_allclose(flat, np.repeat(generator.decode(np.zeros((1, 2)))[:1], 3, axis=0), atol=1e-6)


def test_chunked_sampling_equals_one_batch(bundle):
    small = runtime.load(bundle, chunk=7).sample(30, seed=5)
    np.testing.assert_allclose(small, runtime.load(bundle, chunk=1000).sample(30, seed=5), atol=1e-6)


def test_encode_uint8_equals_float_and_reconstruct_mean(generator, fashion_mnist_dir):
    from vaedge.io.images import read_images

    pixels, names = read_images([fashion_mnist_dir], generator.image_shape, limit=10)
    assert pixels.dtype == np.uint8 and names[0] == "fashion-mnist[0]"
    z8 = generator.encode(pixels)
    zf = generator.encode(pixels.astype(np.float32) / 255.0)
    np.testing.assert_allclose(z8[0], zf[0], atol=1e-6)
    mean_recon = generator.reconstruct(pixels, sample=False)
    np.testing.assert_allclose(mean_recon, generator.decode(z8[0]), atol=1e-6)
    recon, eps = generator.reconstruct(pixels, seed=2, return_eps=True)
    np.testing.assert_allclose(recon, generator.decode(z8[0] + np.exp(0.5 * z8[1]) * eps), atol=1e-6)
    strip = generator.interpolate(pixels[0], pixels[1], 5)
    np.testing.assert_allclose(strip[0], generator.decode(z8[0][:1])[0], atol=1e-6)
    np.testing.assert_allclose(strip[-1], generator.decode(z8[0][1:2])[0], atol=1e-6)


def test_onnx_and_tflite_agree_on_the_same_eps(bundle):
    pytest.importorskip("ai_edge_litert")
    onnx_gen, tflite_gen = runtime.load(bundle), runtime.load(bundle, backend="tflite")
    a, eps = onnx_gen.sample(64, seed=0, return_eps=True)
    assert np.abs(tflite_gen.decode(eps) - a).max() <= 1e-5
    images = (a * 255).astype(np.uint8)
    for x, y in zip(onnx_gen.encode(images), tflite_gen.encode(images)):
        assert np.abs(x - y).max() <= 1e-4


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_quantized_variants_load_and_stay_close(bundle, generator, precision):
    variant = runtime.load(bundle, precision=precision)
    eps = np.random.default_rng(0).standard_normal((32, 2)).astype(np.float32)
    mse = float(np.mean((variant.decode(eps) - generator.decode(eps)) ** 2))
    assert 10 * np.log10(1 / max(mse, 1e-12)) >= 30


def test_reconstruct_matches_keras_with_the_same_eps(bundle, fashion_mnist_dir, request):
    keras = pytest.importorskip("keras")  # the base-install CI venv runs the rest of this file
    trained_run = request.getfixturevalue("trained_run")
    from vaedge.io.images import read_images
    from vaedge.train.model import Sampling

    generator = runtime.load(bundle)
    pixels, _ = read_images([fashion_mnist_dir], generator.image_shape, limit=32)
    recon, eps = generator.reconstruct(pixels, seed=7, return_eps=True)
    encoder = keras.saving.load_model(trained_run / "encoder.keras")
    decoder = keras.saving.load_model(trained_run / "decoder.keras")
    z_mean, z_log_var = encoder(pixels.astype(np.float32) / 255.0, training=False)
    expected = decoder(Sampling()(z_mean, z_log_var, eps=eps), training=False)
    assert np.abs(recon - np.asarray(expected)).max() <= 1e-5


def test_unknown_provider_lists_what_exists(bundle):
    with pytest.raises(InputError, match="CPUExecutionProvider") as err:
        runtime.load(bundle, providers=["NoSuchExecutionProvider"])
    assert "NoSuchExecutionProvider is not available" in str(err.value)
    assert runtime.load(bundle, providers=["CPUExecutionProvider"], threads=1).providers == ["CPUExecutionProvider"]


def test_cli_generate_reconstruct_interpolate_manifold_encode_info(bundle, tmp_path, fashion_mnist_dir):
    out = tmp_path / "s.png"
    result = runner.invoke(
        app,
        [
            "generate",
            str(bundle),
            "--n",
            "12",
            "--seed",
            "0",
            "--columns",
            "4",
            "--out",
            str(out),
            "--npy",
            str(tmp_path / "s.npz"),
        ],
    )
    assert result.exit_code == 0, result.output
    with Image.open(out) as png:  # 3 rows x 4 columns of 28px tiles with 1px gaps, scaled x2
        assert png.size == (2 * (4 * 29 - 1), 2 * (3 * 29 - 1))
    arrays = np.load(tmp_path / "s.npz")
    np.testing.assert_allclose(arrays["images"], runtime.load(bundle).sample(12, seed=0), atol=1e-6)
    Image.fromarray((arrays["images"][0, ..., 0] * 255).astype(np.uint8)).save(tmp_path / "a.png")
    Image.fromarray((arrays["images"][1, ..., 0] * 255).astype(np.uint8)).save(tmp_path / "b.png")
    commands = [
        ["reconstruct", str(bundle), str(fashion_mnist_dir), "--limit", "5", "--out", str(tmp_path / "r.png")],
        [
            "interpolate",
            str(bundle),
            str(tmp_path / "a.png"),
            str(tmp_path / "b.png"),
            "--steps",
            "6",
            "--out",
            str(tmp_path / "i.png"),
        ],
        ["manifold", str(bundle), "--size", "5", "--out", str(tmp_path / "m.png")],
    ]
    for command in commands:
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
    with Image.open(tmp_path / "r.png") as png:
        assert png.size == (2 * (10 * 29 - 1), 2 * 28)
    with Image.open(tmp_path / "i.png") as png:
        assert png.size == (2 * (6 * 29 - 1), 2 * 28)
    encoded = runner.invoke(app, ["encode", str(bundle), str(tmp_path / "a.png"), "--json"])
    rows = json.loads(encoded.output)
    assert rows[0]["image"] == "a.png" and len(rows[0]["z_mean"]) == 2 and len(rows[0]["z_log_var"]) == 2
    info = json.loads(runner.invoke(app, ["info", str(bundle), "--json"]).output)
    assert info["latent_dim"] == 2 and all(f["verified"] for f in info["files"]) and info["unlisted_files"] == []
