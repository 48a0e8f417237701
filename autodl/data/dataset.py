"""The dataset every later stage reads: four splits, the task, and label names.

A split holds its examples in memory, or, for large image folders and tables, only what locates
each example (file paths, row numbers) and a ``Stream`` that reads them through tf.data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from autodl.spec import params

Kind = Literal["image", "text", "tabular", "sequence"]
Origin = Literal["random", "by_file", "by_time"]
Task = Literal["binary", "multiclass", "regression"]
SPLITS: tuple[str, ...] = ("train", "train_dev", "dev", "test")


class Stream(Protocol):
    """Reads examples from where they live, so a split need not hold them in memory."""

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one example."""
        ...

    def dataset(self, refs: np.ndarray) -> Any:
        """A tf.data dataset of the examples ``refs`` locate, unbatched, in the order given."""
        ...

    def read(self, refs: np.ndarray) -> np.ndarray:
        """The examples ``refs`` locate, as one array (for a few examples at a time)."""
        ...


@dataclass(frozen=True)
class Split:
    """Inputs and targets of one split. With a ``stream``, ``x`` holds what locates each example
    (file paths, row numbers) instead of the example itself."""

    x: np.ndarray
    y: np.ndarray
    stream: Stream | None = None

    def __len__(self) -> int:
        return len(self.y)

    def examples(self, indices: Any) -> np.ndarray:
        """The input examples at ``indices``, read from the stream when the split streams."""
        picked = self.x[indices]
        if self.stream is None:
            return picked
        if np.ndim(picked) == 0:
            return self.stream.read(np.array([picked]))[0]
        return self.stream.read(picked)


def joined(splits: list[Split]) -> Split:
    """One split of all examples; the splits of one source share its stream, if it streams, and
    its examples then stay in source order (a table is read front to back)."""
    x = np.concatenate([s.x for s in splits])
    y = np.concatenate([s.y for s in splits])
    stream = splits[0].stream
    if stream is not None:
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    return Split(x, y, stream)


@dataclass(frozen=True)
class RawData:
    """What a source yields before splitting: all examples, labels as read."""

    name: str
    kind: Kind
    x: np.ndarray
    labels: np.ndarray
    groups: np.ndarray = field(default_factory=lambda: np.array([]))
    stream: Stream | None = None


@dataclass(frozen=True)
class Dataset:
    """Split, encoded data. ``class_names[i]`` is the label that the model calls ``i``."""

    name: str
    kind: Kind
    task: Task
    splits: dict[str, Split]
    class_names: tuple[str, ...] = ()
    origin: Origin = "random"
    """How dev relates to train-dev: drawn from the same rows (``random``), from other files
    (``by_file``), or later in time (``by_time``); it decides whether a data mismatch can exist."""

    @property
    def train(self) -> Split:
        return self.splits["train"]

    @property
    def input_shape(self) -> tuple[int, ...]:
        stream = self.train.stream
        return tuple(stream.shape) if stream is not None else tuple(self.train.x.shape[1:])

    @property
    def streamed(self) -> bool:
        """Whether examples are read from disk through tf.data rather than held in memory."""
        return self.train.stream is not None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def facts(self) -> dict[str, str]:
        """What the data tells the built-in conditions of the hyperparameters: its kind and task
        (a text setting is in effect only on text, the regression loss only for regression)."""
        return params.facts(kind=self.kind, task=self.task)

    def sizes(self) -> dict[str, int]:
        """Number of examples per split."""
        return {name: len(split) for name, split in self.splits.items()}

    def class_balance(self) -> dict[str, float]:
        """Fraction of each class in the training split (empty for regression)."""
        if self.task == "regression":
            return {}
        counts = np.bincount(self.train.y.astype(int), minlength=self.num_classes)
        return {name: float(c) / len(self.train) for name, c in zip(self.class_names, counts, strict=True)}

    def describe(self) -> str:
        """One line: source, kind, task, split sizes and class balance."""
        sizes = ", ".join(f"{k} {v}" for k, v in self.sizes().items())
        balance = self.class_balance()
        classes = ""
        if balance:
            shown = ", ".join(f"{k}: {v:.0%}" for k, v in list(balance.items())[:10])
            classes = f"; {len(balance)} classes in train ({shown}{', ...' if len(balance) > 10 else ''})"
        return f"data {self.name}: {self.kind}, {self.task}; {sizes}{classes}"
