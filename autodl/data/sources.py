"""Where examples come from: built-in sets, Keras datasets, and files on disk.

``resolve`` only looks at names and paths (no TensorFlow), so ``autodl validate`` can check that a
spec's data exists; ``read`` loads the examples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from autodl.data.arrays import read_npz
from autodl.data.dataset import RawData
from autodl.data.images import IMAGE_SUFFIXES, read_image_folder
from autodl.data.series import SERIES, SERIES_COLUMNS, read_series
from autodl.data.tables import TABLE_SUFFIXES, check_rows, read_frame, read_table
from autodl.errors import DataError
from autodl.runtime.backend import load_keras
from autodl.runtime.log import logger
from autodl.spec.sections import DataSpec

TEXT_SUFFIXES = (".txt", ".tsv")


def _digits() -> RawData:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype("float32")[..., np.newaxis]
    return RawData("digits", "image", images, bunch.target.astype(str))


BUILTIN: dict[str, Callable[[], RawData]] = {"digits": _digits}


def _keras_images(name: str) -> RawData:
    keras = load_keras()

    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    x = np.concatenate([x_train, x_test]).astype("float32")
    if x.ndim == 3:
        x = x[..., np.newaxis]
    y = np.concatenate([y_train, y_test]).ravel()
    return RawData(f"keras:{name}", "image", x, y.astype(str))


def _keras_text(name: str) -> RawData:
    keras = load_keras()

    module = getattr(keras.datasets, name)
    (x_train, y_train), (x_test, y_test) = module.load_data()
    index = module.get_word_index()
    words = {i + 3: w for w, i in index.items()}
    texts = [
        " ".join(words.get(i, "") for i in seq if i >= 3)
        for seq in list(x_train) + list(x_test)
    ]
    y = np.concatenate([y_train, y_test]).ravel()
    return RawData(f"keras:{name}", "text", np.array(texts, dtype=object), y.astype(str))


KERAS: dict[str, Callable[[], RawData]] = {
    "mnist": lambda: _keras_images("mnist"),
    "fashion_mnist": lambda: _keras_images("fashion_mnist"),
    "cifar10": lambda: _keras_images("cifar10"),
    "cifar100": lambda: _keras_images("cifar100"),
    "imdb": lambda: _keras_text("imdb"),
    "reuters": lambda: _keras_text("reuters"),
}


@dataclass(frozen=True)
class SourceRef:
    """A resolved data source: a built-in name, a Keras dataset name, or an existing path."""

    kind: Literal["builtin", "keras", "path"]
    name: str
    path: Path | None = None


def resolve(source: str, base_dir: Path) -> SourceRef:
    """Resolve ``source`` (relative paths against ``base_dir``) or raise ``DataError``."""
    if source in BUILTIN or source in SERIES:
        return SourceRef("builtin", source)
    if source.startswith("keras:"):
        name = source.removeprefix("keras:")
        if name not in KERAS:
            raise DataError(
                f"Unknown Keras dataset {name!r} in data.source; expected one of "
                f"{', '.join('keras:' + k for k in KERAS)}. Received: data.source={source!r}"
            )
        return SourceRef("keras", name)
    path = _expanded(source, "data.source")
    if not path.is_absolute():
        path = base_dir / path
    try:
        exists = path.exists()
    except OSError as exc:  # a name too long for the file system, a component that is not a folder
        raise DataError(f"data.source is not a usable path ({exc.strerror or exc}). "
                        f"Received: data.source={source!r}") from None
    if not exists:
        raise DataError(
            f"Data not found: {path} does not exist. data.source takes a built-in name "
            f"({', '.join([*BUILTIN, *SERIES])}), keras:<name>, or a file or folder (relative to "
            f"the spec file). Received: data.source={source!r}"
        )
    return SourceRef("path", str(path), path.resolve())


def command_line_source(value: str) -> str:
    """A ``--data`` value as a spec source: names stay names, paths become absolute (they are
    relative to where the command runs, not to the spec file)."""
    if value in BUILTIN or value in SERIES or value.startswith("keras:"):
        return value
    return str(_expanded(value, "--data").resolve())


def _expanded(value: str, where: str) -> Path:
    """``value`` as a path with ``~`` expanded; an unknown ``~user`` is a ``DataError``."""
    try:
        return Path(value).expanduser()
    except RuntimeError as exc:  # pathlib raises it for ~user of no such user
        raise DataError(f"{where}: {exc}; write the path without ~ or with an existing user's home. "
                        f"Received: {where}={value!r}") from None


def read(ref: SourceRef, spec: DataSpec) -> RawData:
    """Load every example of a resolved source, reading files by their kind."""
    if ref.kind == "builtin":
        if ref.name in SERIES:
            raise DataError(
                f"{ref.name} is a time series: set data.series to its column "
                f"({SERIES_COLUMNS[ref.name]}) to forecast it. Received: data.source={ref.name!r}"
            )
        return BUILTIN[ref.name]()
    if ref.kind == "keras":
        return _read_keras(ref.name)
    path = ref.path
    if path is None:
        raise DataError(f"{ref.name} is neither a built-in set, a Keras dataset nor a file or folder.")
    suffix = path.suffix.lower()
    if path.is_dir():
        if _has_class_folders(path):
            return read_image_folder(path, spec.image_size, spec.color_mode, spec.stream)
        return read_text_files(path)
    if suffix == ".npz":
        return read_npz(path)
    table_columns = spec.label or spec.features or spec.text
    if suffix in (".csv", ".parquet") or (suffix == ".tsv" and table_columns):
        return read_table(path, spec.label, spec.features, spec.text, spec.stream)
    return read_text_files(path)


def read_series_source(ref: SourceRef, spec: DataSpec) -> tuple[np.ndarray, str]:
    """The values of the column ``data.series`` of a built-in series or a table file."""
    if spec.series is None:
        raise DataError("data.series names no column to forecast; set it to read a time series.")
    if ref.kind == "builtin" and ref.name in SERIES:
        return read_series(SERIES[ref.name](), spec.series, Path(ref.name)), ref.name
    if ref.path is None or ref.path.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(
            f"data.series needs a table file ({', '.join(TABLE_SUFFIXES)}) or a built-in series "
            f"({', '.join(SERIES)}). Received: data.source={ref.name!r}"
        )
    frame = read_frame(ref.path)
    check_rows(frame, ref.path)
    return read_series(frame, spec.series, ref.path), ref.path.name


def _has_class_folders(path: Path) -> bool:
    """Whether ``path`` holds subfolders of images (one per class)."""
    return any(
        child.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in child.iterdir())
        for child in path.iterdir()
        if not child.name.startswith(".")
    )


def _read_keras(name: str) -> RawData:
    try:
        return KERAS[name]()
    except Exception as exc:  # the download raises many types: URLError, OSError, HTTPError...
        raise DataError(
            f"Could not load keras:{name}: Keras downloads it on first use and that failed "
            f"({type(exc).__name__}: {exc}). Connect to the internet once (the files are then "
            f"cached under ~/.keras/datasets), or point --data at data on disk."
        ) from exc


def _parse_text_file(path: Path, strict: bool) -> tuple[list[str], list[str]] | None:
    """Read ``text<TAB>label`` lines.

    When not ``strict`` (a file found in a folder), a file whose first line is not of that form
    (a readme) gives ``None``; a bad line further down is always an error naming its number.
    """
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc}") from exc
    texts: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        text, tab, label = line.rpartition("\t")
        if not tab or not label.strip() or not text.strip():
            if not strict and not texts:
                logger.info("skipping %s: its first line is not 'text<TAB>label'", path.name)
                return None
            raise DataError(
                f"{path}, line {number}: expected 'text<TAB>label'. Received: line={line[:80]!r}"
            )
        texts.append(text.strip())
        labels.append(label.strip())
    return texts, labels


def read_text_files(path: Path) -> RawData:
    """Headerless ``text<TAB>label`` data from one file or every such file in a folder."""
    files = (
        sorted(p for p in path.iterdir() if p.suffix.lower() in TEXT_SUFFIXES)
        if path.is_dir()
        else [path]
    )
    texts: list[str] = []
    labels: list[str] = []
    groups: list[str] = []
    for file in files:
        parsed = _parse_text_file(file, strict=not path.is_dir())
        if parsed is None:
            continue
        texts += parsed[0]
        labels += parsed[1]
        groups += [file.name] * len(parsed[0])
    if not texts:
        raise DataError(
            f"No labelled text found in {path}: expected files of 'text<TAB>label' lines "
            f"({' or '.join(TEXT_SUFFIXES)})."
        )
    return RawData(
        path.name, "text", np.array(texts, dtype=object), np.array(labels), np.array(groups)
    )
