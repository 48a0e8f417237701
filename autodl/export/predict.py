"""``autodl predict``: raw input in the forms training reads, through an exported model, to a
table of predicted label names and class probabilities (or values, for regression).

Inputs: a folder of images (searched recursively; when the images sit in subfolders named after
the classes, those names are kept as the true labels), one image file, a text file (one sentence
per line, or ``text<TAB>label`` lines as in training), a table (CSV, TSV, Parquet) with the
feature columns or the text column, or an ``.npz`` with ``x`` (and optionally ``y``).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autodl.data.arrays import X_NAMES, Y_NAMES
from autodl.data.images import IMAGE_SUFFIXES, PIL_MODES, decode_image
from autodl.data.tables import TABLE_SUFFIXES, column, numeric, read_frame
from autodl.errors import DataError
from autodl.export import formats, textprep
from autodl.export.bundle import MANIFEST_FILE
from autodl.results.record import EXPORT_FOLDER

EXPECTED = {
    "image": "a folder of images, an image file, or an .npz with x of shape (n, height, width, channels)",
    "text": "a text file (one sentence per line), a table with a text column, or an .npz with a 1-D "
            "string array x",
    "tabular": "a table (CSV, TSV, Parquet) with the feature columns, or an .npz with x of shape "
               "(n, features)",
    "sequence": "an .npz with x of shape (n, time, features)",
}


@dataclass
class Inputs:
    """Examples ready for the model, an id per example, and what the output repeats of them."""

    x: np.ndarray
    ids: list[str]
    texts: list[str] | None = None
    labels: list[str] | None = None


SHOWN_ENTRIES = 8


def _contents(folder: Path) -> str:
    """What ``folder`` is, for the message that it holds no export."""
    if not folder.exists():
        return "it does not exist"
    if not folder.is_dir():
        return "it is a file, not a folder"
    names = sorted(entry.name + "/" * entry.is_dir() for entry in folder.iterdir())
    if not names:
        return "it is empty"
    more = f" and {len(names) - SHOWN_ENTRIES} more" if len(names) > SHOWN_ENTRIES else ""
    return f"it holds {', '.join(names[:SHOWN_ENTRIES])}{more}"


def open_export(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The export folder and its manifest; a best-model folder leads to its ``export/``."""
    for candidate in (folder, folder / EXPORT_FOLDER):
        manifest = candidate / MANIFEST_FILE
        if manifest.is_file():
            try:
                return candidate, json.loads(manifest.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise DataError(f"{manifest} is not a valid export manifest ({exc}); export again "
                                "with `autodl export SPEC`.") from None
    raise DataError(
        f"{folder} holds no exported model (no {MANIFEST_FILE} in it or in {EXPORT_FOLDER}/; "
        f"{_contents(folder)}). Run `autodl export SPEC` first and pass the folder it writes "
        "(best_model/<name>/export)."
    )


def _wrong_kind(path: Path, kind: str, got: str) -> DataError:
    return DataError(f"{path}: {got}, but this model takes {kind} data; give it {EXPECTED[kind]}.")


def _images(path: Path, described: dict[str, Any], class_names: list[str]) -> Inputs:
    files = [path] if path.is_file() else sorted(
        f for f in path.rglob("*")
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in f.relative_to(path).parts)
    )
    if not files:
        raise DataError(f"{path}: found no images ({', '.join(IMAGE_SUFFIXES)}) in this folder or below.")
    height, width, _ = described["shape"]
    mode = PIL_MODES[described["color_mode"]]
    x = np.stack([decode_image(f, mode, (height, width)) for f in files])
    root = path.parent if path.is_file() else path
    ids = [f.relative_to(root).as_posix() for f in files]
    folders = [Path(i).parts[0] if len(Path(i).parts) > 1 else None for i in ids]
    labels = folders if all(f in class_names for f in folders) else None
    return Inputs(x, ids, labels=labels)  # type: ignore[arg-type]  # all in class_names, so none is None


def _text_lines(path: Path) -> Inputs:
    """One sentence per line; ``text<TAB>label`` lines (training's format) keep their label."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError as exc:
        raise DataError(f"Cannot read {path}: {exc}") from exc
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line]
    if not numbered:
        raise DataError(f"{path} is empty: write one sentence per line.")
    parts = [line.rpartition("\t") for _, line in numbered]
    labelled = all(tab and text.strip() and label.strip() for text, tab, label in parts)
    texts = [text.strip() if labelled else line for (_, line), (text, _, _) in zip(numbered, parts, strict=False)]
    labels = [label.strip() for _, _, label in parts] if labelled else None
    return Inputs(np.array(texts, dtype=object), [f"line {n}" for n, _ in numbered], texts, labels)


def _table(path: Path, described: dict[str, Any]) -> Inputs:
    frame = read_frame(path)
    columns = [str(c) for c in frame.columns]
    labels = frame["label"].astype(str).tolist() if "label" in columns else None
    ids = [f"row {i + 2}" for i in range(len(frame))]
    if described["kind"] == "text":
        name = described.get("text_column") or "text"
        texts = column(frame, name, path, "input.text_column").fillna("").astype(str).tolist()
        return Inputs(np.array(texts, dtype=object), ids, texts, labels)
    if described["kind"] != "tabular":
        raise _wrong_kind(path, described["kind"], "a table was given")
    names = described.get("features") or [c for c in columns if c != "label"]
    x = np.stack([numeric(column(frame, n, path, "input.features"), path, n) for n in names], axis=1)
    return Inputs(x, ids, labels=labels)


def _npz(path: Path, kind: str) -> Inputs:
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not an .npz file (not a zip archive); save it with np.savez(path, x=x).")
    with np.load(path, allow_pickle=False) as npz:
        x_name = next((n for n in X_NAMES if n in npz.files), None)
        if x_name is None:
            raise DataError(
                f"{path}: expected an array 'x' (or {', '.join(repr(n) for n in X_NAMES[1:])}) but "
                f"found {', '.join(repr(n) for n in npz.files) or 'none'}."
            )
        try:
            x = npz[x_name]
            y_name = next((n for n in Y_NAMES if n in npz.files), None)
            labels = [str(v) for v in npz[y_name].ravel()] if y_name else None
        except ValueError as exc:
            raise DataError(f"{path}: cannot read its arrays ({exc}); autodl never unpickles "
                            "files, so save strings as a unicode array.") from None
    if x.dtype.kind == "U":
        if kind != "text":
            raise _wrong_kind(path, kind, "x holds strings")
        texts = [str(t) for t in x]
        return Inputs(np.array(texts, dtype=object), [str(i) for i in range(len(x))], texts, labels)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: x has dtype {x.dtype}; expected numbers, or strings for text.")
    return Inputs(x.astype("float32"), [str(i) for i in range(len(x))], labels=labels)


def read_inputs(path: Path, manifest: dict[str, Any]) -> Inputs:
    """The examples in ``path``, read as training reads its sources, checked against the model's
    input."""
    described = manifest["input"]
    kind = described["kind"]
    if not path.exists():
        raise DataError(f"Input not found: {path} does not exist. Give {EXPECTED[kind]}.")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in IMAGE_SUFFIXES:
        if kind != "image":
            raise _wrong_kind(path, kind, "images were given")
        inputs = _images(path, described, manifest["class_names"])
    elif suffix == ".npz":
        inputs = _npz(path, kind)
    elif suffix in TABLE_SUFFIXES and not (suffix == ".tsv" and kind == "text"):
        inputs = _table(path, described)
    elif kind == "text":
        inputs = _text_lines(path)
    else:
        raise _wrong_kind(path, kind, f"a {suffix or 'suffix-less'} file was given")
    expected = tuple(described["shape"])
    if kind != "text" and inputs.x.shape[1:] != expected:
        raise DataError(
            f"{path}: each example has shape {inputs.x.shape[1:]} but the model takes {expected}. "
            f"Give {EXPECTED[kind]}."
        )
    return inputs


def choose_format(manifest: dict[str, Any], name: str | None) -> str:
    """The format asked for, else Keras when exported, else the first one exported."""
    saved = list(manifest["formats"])
    if name is None:
        return "keras" if "keras" in saved else saved[0]
    formats.get(name)
    if name not in saved:
        raise DataError(
            f"This export has no {name} model; it holds {', '.join(saved)}. "
            f"Export it with `autodl export SPEC --formats {name}`. Received: --format={name!r}"
        )
    return name


def table(outputs: np.ndarray, manifest: dict[str, Any], inputs: Inputs) -> Any:
    """The predictions as a DataFrame: id, the text, the true label when known, the predicted
    label name and one probability column per class (``prediction`` alone for regression)."""
    import pandas as pd

    columns: dict[str, Any] = {"id": inputs.ids}
    if inputs.texts is not None:
        columns["text"] = inputs.texts
    if inputs.labels is not None:
        columns["label"] = inputs.labels
    names = manifest["class_names"]
    if manifest["task"] == "regression":
        columns["prediction"] = outputs.reshape(len(outputs), -1)[:, 0].astype(float)
        return pd.DataFrame(columns)
    if manifest["task"] == "binary":
        positive = outputs.reshape(-1).astype(float)
        probabilities = np.stack([1 - positive, positive], axis=1)
    else:
        probabilities = outputs.astype(float)
    columns["prediction"] = [names[i] for i in probabilities.argmax(axis=1)]
    for i, name in enumerate(names):
        columns[f"p_{name}"] = probabilities[:, i]
    return pd.DataFrame(columns)


def predict(folder: Path, path: Path, fmt: str | None = None) -> tuple[Any, str]:
    """Predict every example in ``path`` with the export in ``folder``; returns the table and the
    format used."""
    folder, manifest = open_export(folder)
    name = choose_format(manifest, fmt)
    inputs = read_inputs(path, manifest)
    text = manifest.get("text")
    encode = textprep.TextEncoder.from_file(folder / text["vectorizer"]).encode if text else None
    run = formats.loader(name, folder, encode)
    return table(np.asarray(run(inputs.x)), manifest, inputs), name
