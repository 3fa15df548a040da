"""Untrusted bundles and a hostile machine: byte flips, files onnxruntime rejects, a full disk,
no write permission, and memory that stays bounded for n = 100 000."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys

import pytest

from tests.faults import DISK_FULL, NO_WRITE, full_disk, leftovers, unwritable_dir
from tests.runtime.tiny_bundle import make_bundle
from tests.vaedge_command import vaedge
from vaedge import runtime
from vaedge.errors import BundleError


def same_json(data: bytes, original) -> bool:
    try:
        return json.loads(data) == json.loads(original.read_bytes())
    except ValueError:
        return False


def flip_random_bytes(bundle, tmp_path, trials: int, seed: int, reliability):
    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    files = sorted(p for p in copy.iterdir())
    rng = random.Random(seed)
    for _ in range(trials):
        path = rng.choice(files)
        data = bytearray(path.read_bytes())
        offset = rng.randrange(len(data))
        data[offset] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        if path.name == "vaedge.json" and same_json(data, bundle / path.name):
            # "1e-05" -> "1E-05", "\u00b1" -> "\u00B1": the same manifest, which loads as before
            runtime.load(copy)
            outcome = "same manifest after the flip (an exponent's or escape's case): loads"
        else:
            with pytest.raises(BundleError) as err:
                runtime.load(copy)
            assert path.name in str(err.value), (path.name, offset, str(err.value))
            outcome = "refused at load, naming the file"
        shutil.copyfile(bundle / path.name, path)
        reliability("tamper: one bit flipped in a random bundle file", outcome)
    assert runtime.load(copy).sample(2, seed=0).shape[0] == 2  # restored copy loads again


@pytest.mark.reliability
def test_random_bit_flips_are_refused_naming_the_file(bundle, tmp_path, reliability):
    flip_random_bytes(bundle, tmp_path, trials=40, seed=0, reliability=reliability)


@pytest.mark.reliability_full
def test_random_bit_flips_many(bundle, tmp_path, reliability):
    flip_random_bytes(bundle, tmp_path, trials=1000, seed=1, reliability=reliability)


@pytest.mark.reliability
def test_onnx_file_onnxruntime_rejects_is_a_clear_error(tmp_path, reliability):
    pytest.importorskip("onnx")
    from tests.runtime.tiny_bundle import make_bundle

    bundle = make_bundle(tmp_path / "junk", encoder_bytes=b"not an onnx model" * 10)  # hashes match: only ORT objects
    with pytest.raises(BundleError, match="encoder.onnx: not a readable ONNX model"):
        runtime.load(bundle)
    reliability("untrusted: ONNX file onnxruntime rejects (hash valid)", "BundleError naming the file")


@pytest.mark.reliability
def test_generate_on_a_full_disk_leaves_nothing(bundle, reliability):
    with full_disk(16) as (out, fault):
        # the raw arrays (--npy) cannot compress below the 16 KiB, whatever the model draws
        result = vaedge("generate", bundle, "--n", 64, "--npy", out / "a.npz", "--out", out / "s.png", **fault)
        assert result.returncode == 1 and result.stderr.strip() in DISK_FULL, result.stderr
        assert leftovers(out) == []
    reliability("disk full: vaedge generate", "one-line error, nothing written")


@pytest.mark.reliability
def test_generate_without_write_permission_leaves_nothing(bundle, reliability):
    with unwritable_dir() as target:
        result = vaedge("generate", bundle, "--n", 4, "--out", target / "s.png")
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert any(reason in result.stderr for reason in NO_WRITE) and str(target) in result.stderr
        assert leftovers(target) == []
    reliability("permission denied: vaedge generate --out", "one-line error naming the path, nothing written")


# Current RSS, sampled around every chunk (ru_maxrss is a high-water mark: start-up peaks would hide growth).
RSS = """
import json, resource, sys
from vaedge import runtime
from vaedge.bench.timing import rss_mb
generator = runtime.load(sys.argv[1])
generator.sample(256, seed=0)
base = rss_mb()
total, streamed = 0, base
for images, _ in generator.iter_sample(100_000, seed=0):
    total += len(images)
    streamed = max(streamed, rss_mb())
images = generator.sample(100_000, seed=0)
whole = rss_mb()
print(json.dumps({"n": total, "base_kb": base * 1024, "streamed_kb": streamed * 1024, "sample_kb": whole * 1024,
                  "output_kb": images.nbytes // 1024}))
"""


@pytest.mark.reliability
def test_memory_stays_bounded_for_100k_images(tmp_path, reliability):
    # Memory, not speed, is what this checks: a 28x28 bundle whose decoder is one MatMul decodes the
    # 200,000 images in seconds. The timeout only guards against a hang.
    pytest.importorskip("onnx")  # builds the bundle; the base-install venv has no onnx
    bundle = make_bundle(tmp_path / "b28", side=28)
    result = subprocess.run([sys.executable, "-c", RSS, str(bundle)], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-2000:]
    rss = json.loads(result.stdout)
    assert rss["n"] == 100_000
    assert rss["streamed_kb"] - rss["base_kb"] < 64 * 1024  # chunks of 256 images, whatever n is
    assert rss["sample_kb"] - rss["base_kb"] < rss["output_kb"] + 64 * 1024  # the result itself, plus one chunk
    assert rss["sample_kb"] - rss["base_kb"] > rss["output_kb"] * 0.9  # the probe sees memory really held
    reliability(
        "n = 100 000 at the default chunk (256)",
        f"peak RSS +{(rss['streamed_kb'] - rss['base_kb']) // 1024} MiB streamed, "
        f"+{(rss['sample_kb'] - rss['base_kb']) // 1024} MiB for sample() "
        f"holding {rss['output_kb'] // 1024} MiB of images",
    )
