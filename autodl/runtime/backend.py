"""Importing the heavy backends once, when first needed: TensorFlow/Keras quietly, and
matplotlib on its file-only backend.

TensorFlow's C++ start-up prints CUDA probes to stderr even on machines without a GPU (and
ignores ``TF_CPP_MIN_LOG_LEVEL`` for some of them); these are hidden while it loads. Python
errors still surface as usual.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Hide what native code writes to stderr (file descriptor 2) inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def load_keras() -> ModuleType:
    """Keras on the TensorFlow backend, imported with the C++ start-up chatter hidden.

    GPU memory grows as trials need it instead of being taken whole by the first one.
    """
    if "keras" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        with quiet_stderr():
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
            import keras  # noqa: F401  # imported for sys.modules below, inside the quiet block
    return sys.modules["keras"]



def pyplot() -> ModuleType:
    """Matplotlib's pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
