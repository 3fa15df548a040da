"""Keep native libraries' chatter (TensorFlow's start-up, the TFLite converter, LiteRT's delegate
notes) off the user's terminal: only vaedge's own lines reach a person, unless they ask with --verbose."""

from __future__ import annotations

import contextlib
import os

VERBOSE_ENV = "VAEDGE_VERBOSE"


def set_verbose(verbose: bool) -> None:
    """`--verbose`: let native libraries' output through for the rest of this process."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the block; Python exceptions still raise normally.

    Does nothing when VAEDGE_VERBOSE=1 (what `--verbose` sets).
    """
    if os.environ.get(VERBOSE_ENV) == "1":
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
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
        import tensorflow

        tensorflow.get_logger().setLevel("ERROR")  # Python-side absl/TF logging, not only native

        tensorflow.config.list_logical_devices()  # the CUDA probe logs on first device query
