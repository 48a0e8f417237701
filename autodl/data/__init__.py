"""Data stage: read a source, encode its labels, split it into train / train-dev / dev / test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

import numpy as np

from autodl.data.dataset import Dataset, Origin, RawData, Split, Task
from autodl.data.series import SeriesData
from autodl.data.sources import SourceRef, read, read_series_source, resolve
from autodl.data.splits import split_by_files, split_indices, take
from autodl.errors import DataError
from autodl.runtime.log import logger
from autodl.spec.sections import DataSpec

__all__ = [
    "DataFor", "Dataset", "Loaded", "SeriesData", "SourceRef", "Split", "for_config", "load_dataset",
    "resolve",
]

Loaded = Union[Dataset, SeriesData]
"""What ``load_dataset`` returns: split examples, or a split series cut into windows per trial."""
DataFor = Callable[[dict[str, Any]], Dataset]
"""The data one sampled configuration trains on."""


MANY_VALUES = 20
"""Whole-number labels with more distinct values than this (and than ``VALUE_SHARE`` of the rows)
are a quantity to regress on, not classes."""
VALUE_SHARE = 0.05
"""The share of the rows that whole-number labels' distinct values must exceed to be regression,
so that many rows of a few hundred classes (cifar100, reuters) stay classification."""


def infer_task(labels: np.ndarray) -> tuple[Task, str]:
    """The task ``data.task: auto`` takes for ``labels``, and why (for the log line).

    The rule: labels that are not all numbers are classes. Numbers with a fractional part are
    regression. Whole numbers are regression when they take more than ``MANY_VALUES`` (20)
    distinct values and those are more than ``VALUE_SHARE`` (5%) of the rows, e.g. 214 distinct
    values in 442 rows; otherwise each value is a class. Two classes are binary, more multiclass.
    """
    as_text = np.asarray(labels).astype(str)
    numeric = _as_numbers(as_text)
    if numeric is None:
        count = len(np.unique(as_text))
        return ("binary" if count == 2 else "multiclass"), f"{count} distinct labels"
    if not np.all(numeric == np.round(numeric)):
        return "regression", "labels that are not whole numbers"
    count = len(np.unique(numeric))
    if count > MANY_VALUES and count > VALUE_SHARE * len(numeric):
        return "regression", f"{count} distinct whole-number values"
    return ("binary" if count == 2 else "multiclass"), f"{count} distinct labels"


def encode_labels(labels: np.ndarray, task: str, source: str) -> tuple[Task, np.ndarray, tuple[str, ...]]:
    """Infer (``auto``, by ``infer_task``) or check the task and turn labels into model targets.

    Classification labels become integers ``0..k-1`` whose names are returned in order; numeric
    labels sort numerically, others alphabetically.
    """
    if len(labels) == 0:
        raise DataError(f"{source}: no examples to learn from; add labelled examples to the source.")
    as_text = np.asarray(labels).astype(str)
    numeric = _as_numbers(as_text)
    if numeric is None:
        _check_one_kind(as_text, source)
    if task == "auto":
        task = infer_task(labels)[0]
    if task == "regression":
        if numeric is None:
            raise DataError(
                f"{source}: data.task is regression but the labels are not all numbers "
                f"(e.g. {str(as_text[0])!r})."
            )
        return "regression", numeric.astype("float32"), ()
    if numeric is not None:
        as_text = np.array([f"{v:g}" for v in numeric])
        names = np.array(sorted(np.unique(as_text), key=float))
    else:
        names = np.unique(as_text)
    if len(names) < 2:
        raise DataError(
            f"{source}: the labels have a single class ({str(names[0])!r}); a classifier needs at "
            "least two."
        )
    if task == "binary" and len(names) != 2:
        raise DataError(
            f"{source}: data.task is binary but the labels have {len(names)} classes. "
            "Use task: multiclass or auto."
        )
    lookup = {name: i for i, name in enumerate(names)}
    y = np.array([lookup[v] for v in as_text], dtype="int64")
    resolved: Task = "binary" if len(names) == 2 else "multiclass"
    return resolved, y, tuple(str(n) for n in names)


def _check_one_kind(labels: np.ndarray, source: str) -> None:
    """Labels that are partly numbers and partly words are a data error, not extra classes."""
    is_number = np.array([_as_numbers(np.array([v])) is not None for v in np.unique(labels)])
    if is_number.any():
        names = np.unique(labels)
        raise DataError(
            f"{source}: mixed label types: {int(is_number.sum())} label value(s) are numbers "
            f"(e.g. {str(names[is_number][0])!r}) and {int((~is_number).sum())} are text (e.g. "
            f"{str(names[~is_number][0])!r}). Make every label the same kind."
        )


def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    try:
        return values.astype("float64")
    except ValueError:
        return None


def load_dataset(spec: DataSpec, base_dir: Path, seed: int) -> Dataset | SeriesData:
    """Read the source named by ``spec`` and split it by ``spec.split``, seeded by ``seed``.

    A time series (``data.series``) comes back as ``SeriesData``, cut into windows per trial.
    """
    ref = resolve(spec.source, base_dir)
    if spec.series is not None:
        if spec.split.by_files:
            raise DataError("A time series is split in time, not by file: remove data.split's files.")
        values, name = read_series_source(ref, spec)
        return SeriesData.split(name, values, spec.split.fractions(), spec.horizon, spec.stride)
    raw: RawData = read(ref, spec)
    task, reason = infer_task(raw.labels) if spec.task == "auto" else (spec.task, "")
    task, y, names = encode_labels(raw.labels, task, raw.name)
    if reason:
        logger.info("task: %s (inferred from %s; set data.task to change)", task, reason)
    if spec.split.by_files:
        indices = split_by_files(raw.groups, y, spec.split, task, seed, raw.name, names)
    else:
        indices = split_indices(y, spec.split.fractions(), task, seed, names)
    origin: Origin = "by_file" if spec.split.by_files else "random"
    return Dataset(raw.name, raw.kind, task, take(raw.x, y, indices, raw.stream), names, origin)


def for_config(loaded: Loaded, config: dict[str, Any]) -> Dataset:
    """The data a sampled configuration trains on: a time series cut into its ``data.window``."""
    if isinstance(loaded, SeriesData):
        return loaded.windows(config["data"]["window"])
    return loaded


def representative(loaded: Loaded, windows: list[int]) -> Dataset:
    """The data checked and described before any trial: a series cut into the shortest of the
    ``windows`` the space allows."""
    if isinstance(loaded, SeriesData):
        return loaded.windows(min(windows))
    return loaded
