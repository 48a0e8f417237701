"""Reading large image folders and CSV/TSV tables example by example through tf.data.

A streamed source keeps only what locates each example in memory (an image's path, a table's
row number); the examples are decoded batch by batch while a trial trains. Everything that can be
checked without decoding every example is checked up front, so bad data still ends in a clear
message before any training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autodl.errors import DataError

STREAM_ABOVE_BYTES = 1 << 30


def should_stream(setting: bool | str, in_memory_bytes: int) -> bool:
    """``data.stream``: always, never, or (``auto``) when the examples would take over 1 GiB."""
    if setting == "auto":
        return in_memory_bytes > STREAM_ABOVE_BYTES
    return bool(setting)


@dataclass(frozen=True)
class ImageStream:
    """Image files decoded (and resized) by TensorFlow as they are needed.

    Pixels stay uint8 until after the cache, so a disk cache takes a quarter of float32's room.
    """

    shape: tuple[int, int, int]
    resize: bool

    def dataset(self, refs: np.ndarray) -> Any:
        import tensorflow as tf

        height, width, channels = self.shape

        def decode(path: Any) -> Any:
            image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                                       expand_animations=False)
            if self.resize:
                image = tf.cast(tf.image.resize(image, (height, width), method="bilinear"), tf.uint8)
            return tf.ensure_shape(image, self.shape)

        paths = tf.data.Dataset.from_tensor_slices(np.asarray(refs, dtype=str))
        return paths.map(decode, num_parallel_calls=tf.data.AUTOTUNE)

    def read(self, refs: np.ndarray) -> np.ndarray:
        return np.stack(list(self.dataset(refs).as_numpy_iterator())).astype("float32")


@dataclass(frozen=True)
class TableStream:
    """Rows of a CSV/TSV file parsed by TensorFlow; ``columns`` are the feature (or text) column
    positions. Row numbers count data rows from 0 (the header is skipped)."""

    path: Path
    delimiter: str
    columns: tuple[int, ...]
    rows: int
    text: bool
    shape: tuple[int, ...] = field(default=())

    def dataset(self, refs: np.ndarray) -> Any:
        """The rows ``refs`` (in increasing order: the file is read front to back)."""
        import tensorflow as tf

        rows = np.asarray(refs, dtype="int64")
        if np.any(np.diff(rows) <= 0):
            raise ValueError("a streamed table's rows must be given in increasing order")
        wanted = np.zeros(self.rows, dtype=bool)
        wanted[rows] = True
        mask = tf.constant(wanted)
        defaults = [tf.constant("", tf.string)] if self.text else [
            tf.constant(np.nan, tf.float32) for _ in self.columns
        ]

        def parse(index: Any, line: Any) -> Any:
            fields = tf.io.decode_csv(line, defaults, field_delim=self.delimiter,
                                      select_cols=list(self.columns))
            return fields[0] if self.text else tf.stack(fields)

        lines = tf.data.TextLineDataset(str(self.path)).skip(1).enumerate()
        kept = lines.filter(lambda index, line: tf.gather(mask, index))
        return kept.map(parse, num_parallel_calls=tf.data.AUTOTUNE)

    def read(self, refs: np.ndarray) -> np.ndarray:
        values = list(self.dataset(np.sort(refs)).as_numpy_iterator())
        if self.text:
            return np.array([v.decode("utf-8") for v in values], dtype=object)
        return np.stack(values).astype("float32")


def image_header(file: Path, mode: str) -> tuple[int, int, int]:
    """An image's (height, width, channels) after conversion to ``mode``, from its header only;
    a file Pillow cannot identify or verify is a ``DataError`` naming it."""
    import PIL.Image

    try:
        with PIL.Image.open(file) as opened:
            width, height = opened.size
            opened.verify()
    except PIL.UnidentifiedImageError:
        raise DataError(
            f"{file}: cannot read this image (not a recognised image format); remove or replace it."
        ) from None
    except (OSError, SyntaxError) as exc:
        raise DataError(f"{file}: cannot read this image ({exc}); remove or replace it.") from None
    return height, width, 1 if mode == "L" else 3
