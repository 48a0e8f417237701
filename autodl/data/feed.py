"""What Keras's ``fit``, ``evaluate``, ``predict`` and ``adapt`` are given for a split.

In-memory splits go in as arrays. Streamed splits go in as tf.data pipelines: decoded in
parallel, cached to a file after their first full pass (later epochs and trials read the cache
instead of decoding again), shuffled per epoch for training, batched and prefetched.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from autodl.data.dataset import Split
from autodl.errors import DataError

SHUFFLE_BUFFER = 10_000
_cached: dict[int, tuple[Split, Any]] = {}


def fit_inputs(split: Split, batch_size: int, seed: int) -> dict[str, Any]:
    """Keyword arguments of ``model.fit`` for the training split."""
    if split.stream is None:
        return {"x": split.x, "y": split.y, "batch_size": batch_size}
    import tensorflow as tf

    shuffled = _examples(split).shuffle(min(len(split), SHUFFLE_BUFFER), seed=seed,
                                        reshuffle_each_iteration=True)
    return {"x": shuffled.batch(batch_size).prefetch(tf.data.AUTOTUNE)}


def validation_data(split: Split, batch_size: int) -> Any:
    """The ``validation_data`` of ``model.fit`` for the dev split."""
    if split.stream is None:
        return split.x, split.y
    return _batched(_examples(split), batch_size)


def eval_inputs(split: Split, batch_size: int) -> dict[str, Any]:
    """Keyword arguments of ``model.evaluate``."""
    if split.stream is None:
        return {"x": split.x, "y": split.y, "batch_size": batch_size}
    return {"x": _batched(_examples(split), batch_size)}


def predict_inputs(split: Split, batch_size: int) -> dict[str, Any]:
    """Keyword arguments of ``model.predict``: the inputs only, in the split's order."""
    if split.stream is None:
        return {"x": split.x, "batch_size": batch_size}
    return {"x": _batched(_examples(split).map(lambda x, y: x), batch_size)}


def adapt_data(split: Split) -> Any:
    """What a preprocessing layer's ``adapt`` reads: the training inputs, in batches."""
    if split.stream is None:
        return split.x
    return _batched(_examples(split).map(lambda x, y: x), 256)


def _batched(examples: Any, batch_size: int) -> Any:
    import tensorflow as tf

    return examples.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _examples(split: Split) -> Any:
    """The split's (input, target) pairs, decoded once and then read from a cache file.

    Images are cached as uint8 and turned into float32 after the cache. The split is kept with
    its pipeline so that its ``id`` stays its own.
    """
    key = id(split)
    if key not in _cached:
        import tensorflow as tf

        if split.stream is None:
            raise DataError("A split without a stream was handed to the streamed input pipeline.")
        pairs = tf.data.Dataset.zip(
            split.stream.dataset(split.x), tf.data.Dataset.from_tensor_slices(np.asarray(split.y))
        )
        cached = pairs.cache(str(_cache_folder() / f"split-{len(_cached)}"))
        _cached[key] = (split, cached.map(_as_float, num_parallel_calls=tf.data.AUTOTUNE))
    return _cached[key][1]


def _as_float(x: Any, y: Any) -> tuple[Any, Any]:
    import tensorflow as tf

    return (tf.cast(x, tf.float32) if x.dtype == tf.uint8 else x), y


@cache
def _cache_folder() -> Path:
    """A folder for this process's tf.data caches, removed when the process ends."""
    folder = Path(tempfile.mkdtemp(prefix="autodl-cache-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder
