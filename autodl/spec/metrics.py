"""Which metrics each task produces, which way is better, and the ones Keras does not compute.

Names are ``<split>_<metric>`` (``dev_accuracy``, ``train_dev_loss``). Accuracy, AUC (binary),
MAE and RMSE come from Keras every epoch; F1, balanced accuracy (the mean recall over classes),
macro F1 and multiclass AUC are computed from predictions (``trial.measure.scores``).
"""

from __future__ import annotations

TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("loss", "accuracy", "auc", "f1", "balanced_accuracy", "macro_f1"),
    "multiclass": ("loss", "accuracy", "auc", "f1", "balanced_accuracy", "macro_f1"),
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
    """Metrics of ``task`` that Keras does not log and ``trial.measure.scores`` computes."""
    by_task = {"binary": ("f1", "balanced_accuracy", "macro_f1"),
               "multiclass": ("f1", "auc", "balanced_accuracy", "macro_f1")}
    return by_task.get(task, ())
