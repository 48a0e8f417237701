"""Train / train-dev / dev / test splits: seeded, stratified for classification."""

from __future__ import annotations

import numpy as np

from autodl.data.dataset import SPLITS, Split, Task
from autodl.errors import DataError


def split_indices(
    y: np.ndarray, fractions: dict[str, float], task: Task, seed: int
) -> dict[str, np.ndarray]:
    """Partition ``range(len(y))`` by ``fractions`` (summing to 1), stratified unless regression.

    Every split with a positive fraction gets at least one example of each class, or a
    ``DataError`` says how many rows are needed.
    """
    from sklearn.model_selection import train_test_split

    n = len(y)
    n_classes = len(np.unique(y)) if task != "regression" else 1
    needed = {k: f for k, f in fractions.items() if f > 0}
    smallest = min(needed.values())
    if n * smallest < n_classes:
        minimum = int(np.ceil(n_classes / smallest))
        raise DataError(
            f"Too few rows to split: {n} examples cannot give every split at least one example "
            f"of each of the {n_classes} classes with the smallest split fraction {smallest:g}; "
            f"need at least {minimum} rows or a larger fraction in data.split."
        )
    remaining = np.arange(n)
    left = 1.0
    result: dict[str, np.ndarray] = {}
    for name in reversed(SPLITS[1:]):
        share = fractions[name] / left if left > 0 else 0.0
        if share <= 0:
            result[name] = remaining[:0]
            continue
        stratify = y[remaining] if task != "regression" else None
        remaining, taken = train_test_split(
            remaining, test_size=share, random_state=seed, stratify=stratify
        )
        result[name] = np.sort(taken)
        left -= fractions[name]
    result["train"] = np.sort(remaining)
    return {name: result[name] for name in SPLITS}


def take(x: np.ndarray, y: np.ndarray, indices: dict[str, np.ndarray]) -> dict[str, Split]:
    """Materialise the splits from index arrays."""
    return {name: Split(x[idx], y[idx]) for name, idx in indices.items()}
