"""Which metrics each task produces, which way is better, and the ones Keras does not compute.

Names are ``<split>_<metric>`` (``dev_accuracy``, ``train_dev_loss``). Accuracy, AUC (binary),
MAE and RMSE come from Keras every epoch; F1 and multiclass AUC are computed here from predictions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("loss", "accuracy", "auc", "f1"),
    "multiclass": ("loss", "accuracy", "auc", "f1"),
    "regression": ("loss", "mae", "rmse"),
}
OBJECTIVES: tuple[str, ...] = tuple(
    dict.fromkeys(f"dev_{m}" for metrics in TASK_METRICS.values() for m in metrics)
)
LOWER_IS_BETTER = ("loss", "mae", "rmse")


def direction(metric: str) -> str:
    """``minimize`` for losses and errors, ``maximize`` for scores."""
    return "minimize" if metric.rsplit("_", 1)[-1] in LOWER_IS_BETTER else "maximize"


def tasks_for(metric: str) -> list[str]:
    """The tasks that produce ``metric`` (a ``dev_`` name)."""
    name = metric.removeprefix("dev_")
    return [task for task, metrics in TASK_METRICS.items() if name in metrics]


def computed_here(task: str) -> tuple[str, ...]:
    """Metrics of ``task`` that Keras does not log and ``scores`` computes."""
    return {"binary": ("f1",), "multiclass": ("f1", "auc")}.get(task, ())


def scores(task: str, y_true: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """F1 (and multiclass one-vs-rest AUC) from model outputs; empty for regression."""
    from sklearn.metrics import f1_score, roc_auc_score

    if task == "binary":
        labels = (predictions.reshape(-1) >= 0.5).astype(int)
        return {"f1": float(f1_score(y_true, labels, zero_division=0))}
    if task == "multiclass":
        result: dict[str, Any] = {
            "f1": float(f1_score(y_true, predictions.argmax(axis=1), average="macro", zero_division=0))
        }
        present = np.unique(y_true)
        if len(present) == predictions.shape[1]:
            result["auc"] = float(roc_auc_score(y_true, predictions, multi_class="ovr"))
        return result
    return {}
