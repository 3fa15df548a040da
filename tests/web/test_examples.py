"""The held-out images a site keeps: from --data with labels and class names, else the bundle's
parity.npz unlabelled; hash-checked bytes in examples.bin."""

from __future__ import annotations

import hashlib
import json
import subprocess

import numpy as np

from tests.web.conftest import HELD_OUT, VAEDGE
from vaedge.io.idx import read_idx_directory
from vaedge.web.site import MARKER, build_site


def test_site_keeps_labelled_held_out_images(site, fashion_mnist_dir):
    entry = json.loads((site / MARKER).read_text())["examples"]
    data = (site / entry["path"]).read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["shape"] == [HELD_OUT, 28, 28, 1]
    split = read_idx_directory(fashion_mnist_dir, splits=("test",))
    np.testing.assert_array_equal(np.frombuffer(data, np.uint8).reshape(HELD_OUT, 28, 28), split["x_test"][:HELD_OUT])
    assert entry["labels"] == split["y_test"][:HELD_OUT].tolist()
    assert entry["class_names"][0] == "T-shirt/top" and entry["class_names"][9] == "Ankle boot"


def test_default_examples_are_the_bundles_parity_images(bundle, tmp_path):
    site = build_site(bundle, tmp_path / "site", examples=8)
    entry = json.loads((site / MARKER).read_text())["examples"]
    assert entry["labels"] is None and entry["shape"][0] == 8 and "parity.npz" in entry["source"]
    parity = np.load(bundle / "parity.npz")["images"][:8]
    stored = np.frombuffer((site / "examples.bin").read_bytes(), np.uint8).reshape(parity.shape)
    assert np.abs(stored / 255.0 - parity).max() <= 0.5 / 255 + 1e-7


def test_bad_data_fails_in_one_line(bundle, tmp_path):
    (tmp_path / "notes.npz").write_text("not an npz")
    for args in (["--data", str(tmp_path / "notes.npz")], ["--data", str(tmp_path / "nothing")], ["--examples", "0"]):
        done = subprocess.run(
            [*VAEDGE, "web", str(bundle), "--out", str(tmp_path / "site"), *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert not (tmp_path / "site").exists()
