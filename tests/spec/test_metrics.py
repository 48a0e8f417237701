"""Metric names per task, their directions, and which scores are computed outside Keras."""

from __future__ import annotations

import numpy as np

from autodl.spec import metrics
from autodl.trial.measure import scores


def test_objectives_and_directions() -> None:
    assert metrics.OBJECTIVES == ("dev_loss", "dev_accuracy", "dev_auc", "dev_f1", "dev_balanced_accuracy",
                                  "dev_macro_f1", "dev_mae", "dev_rmse")
    assert [metrics.direction(m) for m in metrics.OBJECTIVES] == [
        "minimize", "maximize", "maximize", "maximize", "maximize", "maximize", "minimize", "minimize",
    ]
    assert metrics.tasks_for("dev_loss") == ["binary", "multiclass", "regression"]
    assert metrics.tasks_for("dev_f1") == ["binary", "multiclass"]
    assert metrics.tasks_for("dev_rmse") == ["regression"]


def test_regression_and_computed_here() -> None:
    assert scores("regression", np.zeros(3), np.zeros((3, 1))) == {}
    assert metrics.computed_here("binary") == ("f1", "balanced_accuracy", "macro_f1")
    assert metrics.computed_here("multiclass") == ("f1", "auc", "balanced_accuracy", "macro_f1")
    assert metrics.computed_here("regression") == ()
