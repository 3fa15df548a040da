"""`vaedge evaluate`: the IWAE estimate against numpy, IWAE <= ELBO, K=1 = ELBO, test-split-only data, bad input."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from vaedge import runtime
from vaedge.cli import app
from vaedge.runtime.evaluate import evaluate

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("onnx")
    from tests.runtime.tiny_bundle import make_bundle

    return runtime.load(make_bundle(tmp_path_factory.mktemp("tiny") / "b"))


def direct_iwae(images, k, seed):
    """The same estimate written out with the tiny bundle's weights: encoder mean-of-pixels, decoder
    sigmoid(sigmoid(z) @ ones) (tests/runtime/tiny_bundle.py), image i's eps from default_rng([seed, i])."""
    x = images.reshape(len(images), -1).astype(np.float64) / 255.0
    z_mean = np.repeat(x.mean(axis=1, keepdims=True), 2, axis=1)
    z_log_var = z_mean.copy()
    eps = np.stack([np.random.default_rng([seed, i]).standard_normal((k, 2)) for i in range(len(x))])
    z = (z_mean[:, None] + np.exp(0.5 * z_log_var)[:, None] * eps).astype(np.float32).astype(np.float64)
    p = 1 / (1 + np.exp(-np.repeat((1 / (1 + np.exp(-z))).sum(-1, keepdims=True), 16, axis=-1)))
    p = np.clip(p, 1e-7, 1 - 1e-7)
    log_px = np.sum(x[:, None] * np.log(p) + (1 - x[:, None]) * np.log(1 - p), axis=-1)
    log_pz = -0.5 * np.sum(z**2, -1) - math.log(2 * math.pi)
    log_qz = -0.5 * np.sum(eps**2 + z_log_var[:, None], -1) - math.log(2 * math.pi)
    w = log_px + log_pz - log_qz
    iwae = np.log(np.mean(np.exp(w - w.max(1, keepdims=True)), axis=1)) + w.max(1)
    return -iwae.mean(), -w[:, 0].mean()


def test_iwae_matches_a_direct_numpy_computation(tiny):
    images = np.random.default_rng(1).integers(0, 256, (7, 4, 4, 1), dtype=np.uint8)
    quality = evaluate(tiny, images, k=50, seed=3)
    iwae, elbo = direct_iwae(images, 50, 3)
    assert quality.iwae_nll == pytest.approx(iwae, abs=1e-4) and quality.neg_elbo == pytest.approx(elbo, abs=1e-4)
    assert quality.k == 50 and quality.images == 7 and quality.iwae_stderr > 0 and quality.file == "decoder.onnx"
    assert quality.minus(quality) == (0.0, 0.0) and "iwae_per_image" not in quality.as_dict()


def test_k1_equals_the_elbo_and_iwae_tightens(tiny):
    images = np.random.default_rng(2).integers(0, 256, (40, 4, 4, 1), dtype=np.uint8)
    one = evaluate(tiny, images, k=1, seed=0)
    assert one.iwae_nll == pytest.approx(one.neg_elbo, abs=1e-9)
    many = evaluate(tiny, images, k=200, seed=0)
    assert many.iwae_nll <= many.neg_elbo


def test_figures_do_not_depend_on_chunking_and_the_elbo_not_on_k(tiny, monkeypatch):
    import vaedge.runtime.evaluate as module

    images = np.random.default_rng(4).integers(0, 256, (9, 4, 4, 1), dtype=np.uint8)
    whole = evaluate(tiny, images, k=50, seed=7)
    seen = []
    monkeypatch.setattr(module, "DECODES_PER_CALL", 7)  # 7 samples per call: 8 chunks over K per image
    chunked = evaluate(tiny, images, k=50, seed=7, progress=lambda done, total: seen.append((done, total)))
    assert chunked.iwae_nll == pytest.approx(whole.iwae_nll, abs=1e-9) and chunked.neg_elbo == whole.neg_elbo
    assert seen[-1] == (9 * 50, 9 * 50) and len(seen) == 9 * 8
    assert evaluate(tiny, images, k=3, seed=7).neg_elbo == pytest.approx(whole.neg_elbo, abs=1e-12)


def test_real_bundle_test_split_only_idx_and_npz(bundle, fashion_mnist_dir, tmp_path):
    only_test = tmp_path / "t10k"
    only_test.mkdir()
    shutil.copy(fashion_mnist_dir / "t10k-images-idx3-ubyte.gz", only_test)
    from vaedge.io.images import read_images

    pixels, _ = read_images([fashion_mnist_dir], (28, 28, 1), limit=50)
    np.savez(tmp_path / "x.npz", x_test=pixels[..., 0])
    reports = []
    for data in (only_test, tmp_path / "x.npz"):
        result = runner.invoke(
            app,
            [
                "evaluate",
                str(bundle),
                "--data",
                str(data),
                "--k",
                "20",
                "--limit",
                "50",
                "--precision",
                "fp32",
                "--precision",
                "int8",
                "--json",
                str(tmp_path / "e.json"),
                "--backend",
                "onnx",
            ],
        )
        assert result.exit_code == 0, result.output
        reports.append(json.loads((tmp_path / "e.json").read_text()))
    for report in reports:
        fp32, int8 = report["variants"]
        assert {"file", "precision", "backend", "images", "k", "neg_elbo", "iwae_nll", "iwae_stderr"} <= set(fp32)
        assert fp32["images"] == 50 and fp32["k"] == 20 and fp32["iwae_nll"] <= fp32["neg_elbo"] + 1e-6
        assert abs(int8["iwae_vs_fp32"]) < 5 and "Bernoulli" in report["likelihood"]
        # paired over the same images and eps: far tighter than either variant's own standard error
        assert 0 < int8["iwae_vs_fp32_stderr"] < int8["iwae_stderr"] / 5 and fp32["iwae_vs_fp32"] == 0
        # onnxruntime runs the .ort form of each graph where the bundle has it (export writes both)
        ran = tuple(f"{s}.ort" if (bundle / f"{s}.ort").exists() else f"{s}.onnx" for s in ("decoder", "decoder.int8"))
        assert (fp32["file"], int8["file"]) == ran
    assert reports[0]["variants"][0]["iwae_nll"] == pytest.approx(reports[1]["variants"][0]["iwae_nll"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--k", "0"], "--k must be in 1..100000"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--precision", "int4"], "no int4 auto variant"),
        (["--data", "/nonexistent"], "no such file"),
        (["--backend", "cuda"], "backend must be one of onnx, tflite, openvino"),
    ],
)
@pytest.mark.reliability
def test_bad_arguments_are_one_line(bundle, fashion_mnist_dir, args, message, reliability):
    base = ["evaluate", str(bundle), "--data", str(fashion_mnist_dir)]
    result = runner.invoke(app, base + args if args[0] != "--data" else ["evaluate", str(bundle), *args])
    assert result.exit_code == 1 and message in result.output and result.output.count("\n") == 1, result.output
    reliability("bad input: vaedge evaluate K, N, variant, data", "one line, exit 1")


def test_exported_fp32_graphs_give_the_held_out_figure_training_reported(bundle, tmp_path):
    """Same test images, K=1, the run's seed (vaedge.eps): the fp32 ONNX graphs with host sampling score
    what training's validation scored in Keras, and --data defaults to the manifest's dataset."""
    from vaedge.cli.evaluate import manifest_dataset
    from vaedge.runtime.manifest import read_manifest

    manifest = read_manifest(bundle)
    assert manifest_dataset(manifest.raw) is not None
    metrics, seed = manifest.metrics, manifest.raw["train_config"]["seed"]
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(bundle),
            "--k",
            "1",
            "--limit",
            str(metrics["test_images"]),
            "--seed",
            str(seed),
            "--precision",
            "fp32",
            "--json",
            str(tmp_path / "e.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "e.json").read_text())
    # export's --data when it had one, else training's: .ci/run's base-install bundle names only the latter
    assert report["data"] == manifest_dataset(manifest.raw) and report["binarize"] is False
    (fp32,) = report["variants"]
    assert fp32["images"] == metrics["test_images"] and fp32["k"] == 1
    assert abs(fp32["neg_elbo"] - metrics["test_neg_elbo"]) < 1.0, (fp32["neg_elbo"], metrics["test_neg_elbo"])


def test_binarize_scores_seeded_binary_images(tiny, tmp_path):
    from vaedge.runtime.evaluate import binarized

    images = np.random.default_rng(5).integers(0, 256, (12, 4, 4, 1), dtype=np.uint8)
    binary = binarized(images.astype(np.float32) / 255, 3)
    assert set(np.unique(binary)) <= {0.0, 1.0} and np.array_equal(
        binary, binarized(images.astype(np.float32) / 255, 3)
    )
    assert not np.array_equal(binary, binarized(images.astype(np.float32) / 255, 4))
    # pixels are 1 about as often as their grey level says
    many = binarized(np.full((400, 4, 4, 1), 0.25, np.float32), 0)
    assert abs(many.mean() - 0.25) < 0.02
    quality = evaluate(tiny, images, k=20, seed=3, binarize=True)
    iwae, elbo = direct_iwae((binary * 255).astype(np.uint8), 20, 3)
    assert quality.iwae_nll == pytest.approx(iwae, abs=1e-4) and quality.neg_elbo == pytest.approx(elbo, abs=1e-4)
    assert quality.neg_elbo != pytest.approx(evaluate(tiny, images, k=20, seed=3).neg_elbo, abs=1e-3)


def test_cli_binarize_and_a_manifest_without_a_dataset(tiny, tmp_path):
    bundle = tiny.manifest.root
    np.savez(tmp_path / "x.npz", x_test=np.random.default_rng(6).integers(0, 256, (10, 4, 4), dtype=np.uint8))
    args = ["evaluate", str(bundle), "--data", str(tmp_path / "x.npz"), "--k", "5", "--json", str(tmp_path / "e.json")]
    result = runner.invoke(app, [*args, "--binarize"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["binarize"] is True and "binarised" in report["likelihood"]
    missing = runner.invoke(app, ["evaluate", str(bundle)])
    assert missing.exit_code == 1 and "names no dataset; pass --data" in missing.output, missing.output
