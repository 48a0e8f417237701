"""Table files (CSV, TSV, Parquet): numeric feature columns or a text column, and a label column."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from autodl.data.dataset import RawData
from autodl.data.streams import TableStream, should_stream
from autodl.errors import DataError, first_line
from autodl.runtime.log import logger

if TYPE_CHECKING:
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
CHUNK_ROWS = 100_000
"""Rows read at a time when a streamed table is checked."""


def read_frame(path: Path) -> pd.DataFrame:
    """The whole table as a pandas DataFrame, or a ``DataError`` naming the file."""
    import pandas as pd

    _check_not_empty(path)
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except pd.errors.EmptyDataError:
        raise DataError(_no_header(path)) from None
    except Exception as exc:  # pandas and pyarrow raise many parser-specific types
        raise DataError(f"{path}: cannot read this table ({first_line(exc)}).") from None


def check_rows(frame: pd.DataFrame, path: Path) -> None:
    """A table to learn from needs columns and at least one row below its header."""
    if len(frame.columns) == 0:
        raise DataError(
            f"{path}: the table has {len(frame)} row(s) but no columns; it needs feature columns "
            "(or a text column) and a label column."
        )
    if len(frame) == 0:
        raise DataError(
            f"{path}: the table has no rows, only its header "
            f"({', '.join(str(c) for c in frame.columns)}); add one row per example below the header."
        )


def _check_not_empty(path: Path) -> None:
    """A file of 0 bytes is named as such, not as a parser's complaint."""
    if path.stat().st_size == 0:
        raise DataError(
            f"{path}: the file is empty; a table needs a header line naming its columns, then "
            "one row per example."
        )


def _no_header(path: Path) -> str:
    """What pandas calls "no columns to parse": a file of blank lines."""
    return (
        f"{path}: the table has no columns (only blank lines); a table needs a header line naming "
        "its columns, then one row per example."
    )


def _only_label(path: Path, label: str) -> str:
    """A table of labels alone has nothing to learn from."""
    return (
        f"{path}: the table has only the label column {label!r}; add feature columns, or a text "
        "column named in data.text."
    )


def column(frame: pd.DataFrame, name: str, path: Path, key: str) -> pd.Series:
    """One column by name; an unknown name lists the columns and the closest one."""
    columns = [str(c) for c in frame.columns]
    if name not in columns:
        hint = difflib.get_close_matches(name, columns, n=1)
        did = f"; did you mean {hint[0]!r}?" if hint else "."
        raise DataError(
            f"{path}: no column {name!r} (from {key}){did} Columns: {', '.join(columns)}. "
            f"Received: {key}={name!r}"
        )
    return frame[name]


def numeric(values: pd.Series, path: Path, name: str) -> np.ndarray:
    """A column as float32; a non-number or an empty cell is named by row (file line) and column."""
    import pandas as pd

    converted = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(converted.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        raw = values.iloc[row]
        what = "is empty" if pd.isna(raw) else f"holds {raw!r}, not a number"
        raise DataError(
            f"{path}, row {row + 2} (line {row + 2} counting the header), column {name!r} {what}; "
            f"{len(bad)} such cell(s) in this column. Fix or drop those rows, or leave the column "
            "out of data.features."
        )
    return converted.to_numpy(dtype="float32")


def read_table(
    path: Path, label: str | None, features: list[str] | None, text: str | None,
    stream: bool | str = False,
) -> RawData:
    """Examples from a table: ``text`` names a text column, else numeric ``features``.

    A CSV/TSV file streamed through tf.data (``data.stream``; Parquet is always read whole)
    keeps only row numbers in memory; its labels and feature cells are checked here, in chunks.
    """
    if path.suffix.lower() != ".parquet" and should_stream(stream, path.stat().st_size):
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        labels, table, kind = stream_table(path, delimiter, label, features, text)
        logger.info("streaming %d rows from %s through tf.data", len(labels), path)
        return RawData(path.name, kind, np.arange(len(labels)), labels, stream=table)
    frame = read_frame(path)
    check_rows(frame, path)
    columns = [str(c) for c in frame.columns]
    label_name = label or ("label" if "label" in columns else columns[-1])
    labels = column(frame, label_name, path, "data.label")
    empty = np.flatnonzero(labels.isna().to_numpy())
    if len(empty):
        raise DataError(
            f"{path}, row {int(empty[0]) + 2}: the label column {label_name!r} is empty there "
            f"({len(empty)} row(s) without a label). Label or drop those rows."
        )
    y = labels.astype(str).to_numpy()
    if text is not None:
        texts = column(frame, text, path, "data.text").fillna("").astype(str)
        return RawData(path.name, "text", np.array(texts.tolist(), dtype=object), y)
    names = features or [c for c in columns if c != label_name]
    if not names:
        raise DataError(_only_label(path, label_name))
    x = np.stack(
        [numeric(column(frame, n, path, "data.features"), path, n) for n in names], axis=1
    )
    return RawData(path.name, "tabular", x, y)


def stream_table(
    path: Path, delimiter: str, label: str | None, features: list[str] | None, text: str | None,
) -> tuple[np.ndarray, TableStream, Literal["tabular", "text"]]:
    """Read a large table's labels in chunks, check its feature cells, and set up its stream.

    Returns the labels as text, the stream, and the data kind (``tabular`` or ``text``).
    """
    import pandas as pd

    _check_not_empty(path)
    try:
        head = pd.read_csv(path, sep=delimiter, nrows=1)
    except pd.errors.EmptyDataError:
        raise DataError(_no_header(path)) from None
    except Exception as exc:  # pandas raises many parser-specific types
        raise DataError(f"{path}: cannot read this table ({exc}).") from None
    check_rows(head, path)
    header = [str(c) for c in head.columns]
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
        raise DataError(_only_label(path, label_name))
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
    return re.sub(r"row (\d+) \(line (\d+)",
                  lambda m: f"row {int(m[1]) + start} (line {int(m[2]) + start}", message)
