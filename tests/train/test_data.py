"""Data loaders on the real Fashion-MNIST files and on small IDX/npz/image folders made here."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from PIL import Image

from vaedge.errors import DataError
from vaedge.io import datasets as datasets_module
from vaedge.io.idx import IMAGES_MAGIC
from vaedge.train.data import load_dataset


def write_idx(path, array, magic=IMAGES_MAGIC, gz=True, cut=0):
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = (header + array.astype(np.uint8).tobytes())[: len(header) + array.size - cut]
    (gzip.open if gz else open)(path, "wb").write(payload)


def test_real_fashion_mnist_idx(fashion_mnist_dir):
    ds = load_dataset(str(fashion_mnist_dir))
    assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (10000, 28, 28, 1)
    assert ds.x_train.dtype == np.float32 and 0.0 <= ds.x_train.min() and ds.x_train.max() == 1.0
    assert sorted(np.unique(ds.y_train)) == list(range(10)) and len(ds.y_test) == 10000
    # The published normalisation constants of Fashion-MNIST's training set: mean 0.2860, std 0.3530.
    assert ds.y_train[0] == 9 and abs(float(ds.x_train.mean()) - 0.2860) < 1e-4
    assert abs(float(ds.x_train.std()) - 0.3530) < 1e-4


def test_named_dataset_prefers_local_copy(fashion_mnist_dir, monkeypatch):
    monkeypatch.setenv("VAEDGE_DATA_DIR", str(fashion_mnist_dir.parent))
    ds = load_dataset("fashion_mnist", limit=100)
    assert ds.source == str(fashion_mnist_dir) and ds.x_train.shape == (100, 28, 28, 1)
    assert ds.x_test.shape == (10000, 28, 28, 1)


def test_named_dataset_without_copy_or_network_says_what_was_tried(tmp_path, monkeypatch):
    import keras

    def offline():
        raise OSError("URL fetch failure")

    monkeypatch.setenv("VAEDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(datasets_module, "DEBIAN_DATASETS", tmp_path / "debian")
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError) as err:
        load_dataset("mnist")
    message = str(err.value)
    assert str(tmp_path / "mnist") in message and "download failed" in message and "--data" in message


def test_idx_folder_plain_files_and_limit(tmp_path):
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (50, 8, 12)), gz=False)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (10, 8, 12)))
    ds = load_dataset(str(tmp_path), limit=20)
    assert ds.x_train.shape == (20, 8, 12, 1) and ds.x_test.shape == (10, 8, 12, 1) and ds.y_train is None


def test_npz_uint8_and_float(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "u8.npz",
        x_train=rng.integers(0, 256, (30, 16, 16, 3), dtype=np.uint8),
        x_test=rng.integers(0, 256, (5, 16, 16, 3), dtype=np.uint8),
    )
    ds = load_dataset(str(tmp_path / "u8.npz"))
    assert ds.image_shape == (16, 16, 3) and ds.x_train.max() <= 1.0
    np.savez(tmp_path / "f.npz", x_train=rng.random((30, 16, 16)), x_test=rng.random((5, 16, 16)))
    ds = load_dataset(str(tmp_path / "f.npz"), image_size=(8, 8), channels=3)
    assert ds.x_train.shape == (30, 8, 8, 3) and ds.x_train.dtype == np.float32


def make_image_folder(root, n=40, size=(20, 30)):
    rng = np.random.default_rng(1)
    for i in range(n):
        sub = root / f"class{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(sub / (f"{i}.png" if i % 2 else f"{i}.jpg"))


def test_image_folder_resized_and_split_deterministically(tmp_path):
    make_image_folder(tmp_path)
    a = load_dataset(str(tmp_path), image_size=(16, 16), channels=3, seed=0)
    b = load_dataset(str(tmp_path), image_size=(16, 16), channels=3, seed=0)
    c = load_dataset(str(tmp_path), image_size=(16, 16), channels=3, seed=1)
    assert a.x_train.shape == (36, 16, 16, 3) and a.x_test.shape == (4, 16, 16, 3)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)
    gray = load_dataset(str(tmp_path), image_size=(8, 12), channels=1)
    assert gray.image_shape == (8, 12, 1)


def _bad_dataset(case: str, root):
    """Build one broken dataset under `root`; return (path to load, file the error must name)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 8, 8))
    root.mkdir()
    train, test = root / "train-images-idx3-ubyte.gz", root / "t10k-images-idx3-ubyte.gz"
    if case in ("wrong_magic", "truncated_gzip", "truncated_data"):
        write_idx(test, images)
        if case == "wrong_magic":
            write_idx(train, images, magic=0x00000801)
        elif case == "truncated_data":
            write_idx(train, images, cut=7)
        else:
            write_idx(train, images)
            train.write_bytes(train.read_bytes()[:40])
        return root, train
    if case == "missing_test":
        write_idx(train, images)
        return root, root
    if case == "empty_folder":
        return root, root
    if case == "corrupt_image":
        make_image_folder(root, n=4, size=(8, 8))
        broken = root / "class0" / "broken.png"
        broken.write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(100))
        return root, broken
    npz = root / f"{case}.npz"
    if case == "bad_shape":
        np.savez(
            npz,
            x_train=rng.integers(0, 256, (4, 30, 30), dtype=np.uint8),
            x_test=rng.integers(0, 256, (2, 30, 30), dtype=np.uint8),
        )
    elif case == "npz_missing_key":
        np.savez(npz, x_train=images.astype(np.uint8))
    elif case == "npz_float_range":
        np.savez(npz, x_train=images.astype(np.float32), x_test=images.astype(np.float32))
    elif case == "not_a_dataset":
        npz = root / "nope"
    return npz, npz


@pytest.mark.parametrize(
    "case, expected",
    [
        ("wrong_magic", "wrong IDX magic"),
        ("truncated_gzip", "cannot read"),
        ("truncated_data", "header declares"),
        ("missing_test", "missing t10k-images"),
        ("empty_folder", "no .png/.jpg/.jpeg/.bmp/.gif/.webp images"),
        ("corrupt_image", "cannot decode image"),
        ("bad_shape", "multiples of 4"),
        ("npz_missing_key", "missing array(s) x_test"),
        ("npz_float_range", "must be finite and in [0, 1]"),
        ("not_a_dataset", "no such file or directory"),
    ],
)
@pytest.mark.reliability
def test_bad_data_names_the_file(tmp_path, case, expected, reliability):
    load, culprit = _bad_dataset(case, tmp_path / "d")
    with pytest.raises(DataError) as err:
        load_dataset(str(load))
    assert expected in str(err.value) and str(culprit) in str(err.value)
    reliability(f"corrupt dataset: {case.replace('_', ' ')}", "DataError naming the file")
