"""--limit with --image-size: only what is kept is resized, and the resize holds one copy of the result at a
time (the held-out split stays whole, as training reports its loss on all of it)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

PEAK = """
import json, resource, sys
from vaedge.train.data import load_dataset
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
ds = load_dataset(sys.argv[1], image_size=(56, 56), limit=64)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"growth": after - before, "kept": ds.x_train.nbytes + ds.x_test.nbytes,
                  "train": list(ds.x_train.shape), "test": list(ds.x_test.shape)}))
"""


@pytest.mark.reliability
def test_limit_and_image_size_peak_matches_what_is_kept(fashion_mnist_dir, reliability):
    """A fresh process measures its peak resident memory around load_dataset (ru_maxrss)."""
    result = subprocess.run([sys.executable, "-c", PEAK, str(fashion_mnist_dir)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout.splitlines()[-1])
    assert measured["train"] == [64, 56, 56, 1] and measured["test"] == [10000, 56, 56, 1]
    # the kept arrays, the raw IDX bytes and the 28x28 float copy of the test split, with a little slack
    assert measured["growth"] <= 1.25 * measured["kept"] + 48 * 2**20, measured
    reliability("memory: --image-size with --limit, measured peak", "within the kept arrays plus slack")


def test_resized_pixels_are_pil_bilinear_of_each_image(fashion_mnist_dir):
    from PIL import Image

    from vaedge.io.idx import read_idx_directory
    from vaedge.train.data import load_dataset

    ds = load_dataset(str(fashion_mnist_dir), image_size=(40, 32), limit=3)
    raw = read_idx_directory(fashion_mnist_dir, 3)["x_train"][:3].astype(np.float32) / 255.0
    expected = [np.asarray(Image.fromarray(img).resize((32, 40), Image.Resampling.BILINEAR)) for img in raw]
    np.testing.assert_array_equal(ds.x_train[..., 0], np.clip(np.stack(expected), 0, 1))
    assert ds.x_train.shape == (3, 40, 32, 1) and ds.x_train.dtype == np.float32
