"""Keep TensorFlow's native start-up chatter (absl/oneDNN/CUDA probes) off the user's terminal."""

from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null while TensorFlow loads; Python errors still raise normally."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> None:
    """Import TensorFlow and Keras quietly (idempotent)."""
    with native_stderr_silenced():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401

        tensorflow.config.list_logical_devices()  # the CUDA probe logs on first device query
