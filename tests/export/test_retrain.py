"""Retraining the best configuration: its epoch count and the splits it trains on."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodl.data.dataset import Dataset, Split
from autodl.export import retrain


def record(epochs: int, early_stopping: int | None, dev_loss: list[float]) -> dict[str, Any]:
    return {"epochs": epochs, "history": {"dev_loss": dev_loss},
            "config": {"training": {"epochs": 10, "early_stopping": early_stopping}}}


def test_best_epochs_is_the_lowest_dev_loss_when_early_stopping_restored_it() -> None:
    assert retrain.best_epochs(record(6, 2, [0.9, 0.5, 0.4, 0.45, 0.5, 0.6])) == 3
    assert retrain.best_epochs(record(6, None, [0.9, 0.5, 0.4, 0.45, 0.5, 0.6])) == 6
    assert retrain.best_epochs(record(4, 2, [])) == 4


def test_training_data_joins_train_train_dev_and_optionally_dev() -> None:
    def split(value: int, n: int) -> Split:
        return Split(np.full((n, 2), value, dtype="float32"), np.full(n, value))

    data = Dataset("t", "tabular", "binary", {"train": split(0, 6), "train_dev": split(1, 2),
                                               "dev": split(2, 3), "test": split(3, 4)}, ("a", "b"))
    joined, names = retrain.training_data(data, include_dev=False)
    assert names == ["train", "train_dev"]
    assert joined.sizes() == {"train": 8, "train_dev": 0, "dev": 3, "test": 4}
    assert sorted(set(joined.train.y.tolist())) == [0, 1]
    joined, names = retrain.training_data(data, include_dev=True)
    assert names == ["train", "train_dev", "dev"] and len(joined.train) == 11
    assert joined.class_names == ("a", "b") and joined.splits["test"] is data.splits["test"]
