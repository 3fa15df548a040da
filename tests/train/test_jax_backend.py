"""The model and the ELBO are backend-neutral: they train under Keras' JAX backend too.

Runs where JAX is installed (the GPU image has it; CI's venv does not, so it is skipped there).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

TRAIN_UNDER_JAX = """
import json, sys
import numpy as np, keras
from vaedge.train.model import VAE
assert keras.backend.backend() == "jax"
images = np.load(sys.argv[1])["x"]
keras.utils.set_random_seed(0)
vae = VAE((28, 28, 1), 2, seed=0)
vae.compile(optimizer=keras.optimizers.Adam(1e-3))
history = vae.fit(images, epochs=2, batch_size=128, verbose=0).history
moved = float(np.abs(np.asarray(vae.encoder.get_layer("encode_bn1").moving_mean)).max()) > 0
print(json.dumps({"history": history, "bn_moved": moved}))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_trains_under_the_jax_backend(tmp_path, fashion_mnist_dir):
    import numpy as np

    from vaedge.train.data import load_dataset

    np.savez(tmp_path / "x.npz", x=load_dataset(str(fashion_mnist_dir), limit=512).x_train)
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_UNDER_JAX, str(tmp_path / "x.npz")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    loss = report["history"]["loss"]
    assert loss[1] < min(loss[0], 600) and report["bn_moved"], loss  # it learns: epoch 2 below epoch 1
    assert set(report["history"]) == {"loss", "reconstruction_loss", "kl_loss"}
