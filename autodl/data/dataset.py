"""The in-memory dataset every later stage reads: four splits, the task, and label names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Kind = Literal["image", "text", "tabular", "sequence"]
Task = Literal["binary", "multiclass", "regression"]
SPLITS: tuple[str, ...] = ("train", "train_dev", "dev", "test")


@dataclass(frozen=True)
class Split:
    """Inputs and targets of one split."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class RawData:
    """What a source yields before splitting: all examples, labels as read."""

    name: str
    kind: Kind
    x: np.ndarray
    labels: np.ndarray
    groups: np.ndarray = field(default_factory=lambda: np.array([]))


@dataclass(frozen=True)
class Dataset:
    """Split, encoded data. ``class_names[i]`` is the label that the model calls ``i``."""

    name: str
    kind: Kind
    task: Task
    splits: dict[str, Split]
    class_names: tuple[str, ...] = ()

    @property
    def train(self) -> Split:
        return self.splits["train"]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def sizes(self) -> dict[str, int]:
        """Number of examples per split."""
        return {name: len(split) for name, split in self.splits.items()}

    def class_balance(self) -> dict[str, float]:
        """Fraction of each class in the training split (empty for regression)."""
        if self.task == "regression":
            return {}
        counts = np.bincount(self.train.y.astype(int), minlength=self.num_classes)
        return {name: float(c) / len(self.train) for name, c in zip(self.class_names, counts)}
