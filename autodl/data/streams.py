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
CHUNK_ROWS = 100_000


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


def stream_table(
    path: Path, delimiter: str, label: str | None, features: list[str] | None, text: str | None,
) -> tuple[np.ndarray, TableStream, str]:
    """Read a large table's labels in chunks, check its feature cells, and set up its stream.

    Returns the labels as text, the stream, and the data kind (``tabular`` or ``text``).
    """
    import pandas as pd

    from autodl.data.tables import column, numeric

    try:
        header = [str(c) for c in pd.read_csv(path, sep=delimiter, nrows=0).columns]
    except Exception as exc:  # pandas raises many parser-specific types
        raise DataError(f"{path}: cannot read this table ({exc}).") from None
    label_name = label or ("label" if "label" in header else header[-1])
    frame = pd.DataFrame(columns=header)
    column(frame, label_name, path, "data.label")
    if text is not None:
        column(frame, text, path, "data.text")
        names = [text]
    else:
        names = features or [c for c in header if c != label_name]
        for name in names:
            column(frame, name, path, "data.features")
    if not names:
        raise DataError(f"{path}: no feature columns besides the label {label_name!r}.")
    labels: list[np.ndarray] = []
    start = 0
    for chunk in pd.read_csv(path, sep=delimiter, usecols=[label_name, *names],
                             chunksize=CHUNK_ROWS, keep_default_na=text is None):
        chunk.index = range(start, start + len(chunk))
        empty = np.flatnonzero(chunk[label_name].isna().to_numpy())
        if len(empty):
            raise DataError(
                f"{path}, row {start + int(empty[0]) + 2}: the label column {label_name!r} is "
                "empty there. Label or drop those rows."
            )
        if text is None:
            for name in names:
                try:
                    numeric(chunk[name].reset_index(drop=True), path, name)
                except DataError as exc:
                    raise DataError(_shift_rows(str(exc), start)) from None
        labels.append(chunk[label_name].astype(str).to_numpy())
        start += len(chunk)
    rows = start
    with open(path, "rb") as handle:
        lines = sum(1 for _ in handle) - 1
    if lines != rows:
        raise DataError(
            f"{path}: {rows} rows hold {lines} lines (quoted cells span lines), which cannot be "
            "streamed line by line; set data.stream: false to load the table into memory."
        )
    positions = tuple(header.index(n) for n in names)
    stream = TableStream(path, delimiter, positions, rows, text is not None,
                         () if text is not None else (len(names),))
    return np.concatenate(labels), stream, "text" if text is not None else "tabular"


def _shift_rows(message: str, start: int) -> str:
    """A chunk's row numbers in a message, as rows of the whole file."""
    import re

    return re.sub(r"row (\d+) \(line (\d+)",
                  lambda m: f"row {int(m[1]) + start} (line {int(m[2]) + start}", message)
