"""generate's memory check against a measured peak: what the check says --n images need is at least what
`vaedge generate` really takes (peak resident memory of fresh processes, the difference of a large and
a small n, so the interpreter and the engines cancel out)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

PEAK = (
    "import resource, subprocess, sys\n"
    "result = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(result.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
)
SMALL, LARGE = 1024, 8192


def _generate(bundle, tmp_path, n: int, npy: bool) -> list[str]:
    args = ["generate", str(bundle), "--n", str(n), "--out", str(tmp_path / f"{n}.png"), "--backend", "onnx"]
    return [sys.executable, "-m", "vaedge", *args, "--seed", "0", *(["--npy", str(tmp_path / f"{n}.npz")] * npy)]


def _peak(command: list[str]) -> int:
    code, peak = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True, text=True).stdout.split()
    assert code == "0"
    return int(peak)


@pytest.mark.reliability
def test_what_the_check_admits_covers_the_measured_peak(micro_bundle, tmp_path, reliability):
    from vaedge.runtime.manifest import read_manifest

    pixels, npy = int(np.prod(read_manifest(micro_bundle).image_shape)), False
    huge = 10**9  # refused: the message says what the check counts for it
    refused = subprocess.run(_generate(micro_bundle, tmp_path, huge, npy), capture_output=True, text=True)
    need = float(re.search(r"need ([0-9.]+) GiB", refused.stdout + refused.stderr).group(1)) * 2**30
    admitted_per_image = need / huge  # bytes the check counts per image (to 0.1 GiB in 13 000: 4 digits)
    large, small = (_peak(_generate(micro_bundle, tmp_path, n, npy)) for n in (LARGE, SMALL))
    measured = large - small
    measured_per_image = measured / (LARGE - SMALL)
    assert measured_per_image <= admitted_per_image, (measured_per_image / (4 * pixels), need / huge / (4 * pixels))
    reliability("memory: generate --n, measured peak vs the check", "the check counts at least the peak")
