"""Keras' epoch logs renamed to autodl's metric names."""

from __future__ import annotations

import pytest

from autodl.trial.monitor import rename

pytestmark = pytest.mark.usefixtures("fresh_keras")


def test_rename_keras_logs() -> None:
    logs = {"loss": 1, "accuracy": 0.5, "val_loss": 2, "val_accuracy": 0.25, "val_mae": 3}
    assert rename(logs) == {
        "loss": 1.0, "accuracy": 0.5, "dev_loss": 2.0, "dev_accuracy": 0.25, "dev_mae": 3.0,
    }
