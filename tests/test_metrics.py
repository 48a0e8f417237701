"""Metric names per task, directions, and the scores computed from predictions."""

from __future__ import annotations

import numpy as np
import pytest

from autodl.spec import metrics
from autodl.trial.measure import scores


def test_objectives_and_directions() -> None:
    assert metrics.OBJECTIVES == ("dev_loss", "dev_accuracy", "dev_auc", "dev_f1", "dev_mae", "dev_rmse")
    assert [metrics.direction(m) for m in metrics.OBJECTIVES] == [
        "minimize", "maximize", "maximize", "maximize", "minimize", "minimize",
    ]
    assert metrics.tasks_for("dev_loss") == ["binary", "multiclass", "regression"]
    assert metrics.tasks_for("dev_f1") == ["binary", "multiclass"]
    assert metrics.tasks_for("dev_rmse") == ["regression"]


def test_binary_f1_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([[0.9], [0.2], [0.7], [0.1], [0.6]])
    # predicted 1, 0, 1, 0, 1: tp 2, fp 1, fn 1 -> precision 2/3, recall 2/3, f1 2/3
    assert scores("binary", y, p) == {"f1": pytest.approx(2 / 3)}


def test_multiclass_macro_f1_and_auc() -> None:
    y = np.array([0, 1, 2, 2])
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    result = scores("multiclass", y, p)
    # predicted 0, 1, 2, 0: class f1 = 2/3, 1, 2/3 -> macro 7/9
    assert result["f1"] == pytest.approx(7 / 9)
    assert 0.5 < result["auc"] <= 1.0


def test_multiclass_auc_needs_every_class_present() -> None:
    y = np.array([0, 1, 1])
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    assert set(scores("multiclass", y, p)) == {"f1"}


def test_regression_and_computed_here() -> None:
    assert scores("regression", np.zeros(3), np.zeros((3, 1))) == {}
    assert metrics.computed_here("binary") == ("f1",)
    assert metrics.computed_here("multiclass") == ("f1", "auc")
    assert metrics.computed_here("regression") == ()
