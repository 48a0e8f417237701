"""NumPy ``.npz`` files: an input array and a label array, loaded without unpickling."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from autodl.data.dataset import Kind, RawData
from autodl.errors import DataError

X_NAMES = ("x", "X", "inputs")
Y_NAMES = ("y", "Y", "labels")
KINDS_BY_NDIM: dict[int, Kind] = {2: "tabular", 3: "sequence", 4: "image"}


def _load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The input and label arrays of ``path``; object arrays are refused (unpickling runs code)."""
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"{path}: not an .npz file (not a zip archive); save the data with "
            "np.savez(path, x=x, y=y)."
        )
    with np.load(path, allow_pickle=False) as npz:
        x_name = next((name for name in X_NAMES if name in npz.files), None)
        y_name = next((name for name in Y_NAMES if name in npz.files), None)
        if x_name is None or y_name is None:
            raise DataError(
                f"{path}: expected arrays 'x' and 'y' (or 'X'/'Y', 'inputs'/'labels') but found "
                f"{', '.join(repr(n) for n in npz.files) or 'none'}; save the data with "
                "np.savez(path, x=x, y=y)."
            )
        return _array(npz, x_name, path), _array(npz, y_name, path)


def _array(npz: np.lib.npyio.NpzFile, name: str, path: Path) -> np.ndarray:
    """Array ``name`` of ``npz``, or a ``DataError`` if it holds pickled Python objects or is
    not an array at all."""
    try:
        array = npz[name]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(
                f"{path}: array {name!r} holds Python objects, which need allow_pickle, and "
                "autodl refuses to unpickle files for safety; save strings as a unicode array "
                "(np.array(texts, dtype=str))."
            ) from exc
        raise _unreadable(path, name, str(exc)) from exc
    if not isinstance(array, np.ndarray):
        raise _unreadable(path, name, "not a NumPy array")
    return array


def _unreadable(path: Path, name: str, reason: str) -> DataError:
    """The error for an archive member that does not load as an array."""
    return DataError(
        f"{path}: cannot read array {name!r} ({reason}); save the data again with "
        "np.savez(path, x=x, y=y)."
    )


def _labels(y: np.ndarray, path: Path) -> np.ndarray:
    """One label per example: shape ``(n,)``, or ``(n, 1)`` flattened."""
    if y.ndim == 2 and y.shape[1] == 1:
        return y.ravel()
    if y.ndim != 1:
        raise DataError(
            f"{path}: y has shape {y.shape}; expected one label per example, shape (n,) or (n, 1)."
        )
    return y


def _inputs(x: np.ndarray, path: Path) -> tuple[Kind, np.ndarray]:
    """The kind of data ``x`` holds (from its rank and dtype) and ``x`` ready to use."""
    if x.dtype.kind == "U" and x.ndim == 1:
        return "text", x.astype(object)
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: x has dtype {x.dtype}; expected numbers, or a 1-D array of strings for text."
        )
    if x.ndim not in KINDS_BY_NDIM:
        raise DataError(
            f"{path}: x has shape {x.shape}; expected (n, features) for tabular data, "
            "(n, time, features) for sequences or (n, height, width, channels) for images."
        )
    if 0 in x.shape[1:]:  # nothing to learn from, and Keras's layers abort the process on it
        raise DataError(
            f"{path}: x has an empty axis (each example holds no values); save every example with at "
            f"least one feature (time step, pixel, channel). Received: x.shape={x.shape}"
        )
    return KINDS_BY_NDIM[x.ndim], x.astype("float32")


def read_npz(path: Path) -> RawData:
    """Examples from an ``.npz`` file; the kind (tabular, sequence, image, text) follows ``x``."""
    x, y = _load(path)
    kind, x = _inputs(x, path)
    labels = _labels(y, path)
    if len(x) != len(labels):
        raise DataError(
            f"{path}: x has {len(x)} examples but y has {len(labels)} labels; they must match."
        )
    return RawData(path.stem, kind, x, labels)
