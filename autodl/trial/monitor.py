"""The callbacks of one trial's ``fit``: the epoch monitor (metrics to listeners, NaN guard,
pruning), the learning-rate schedule and early stopping.

Keras is imported when a trial builds its callbacks, never when this module is imported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

from autodl.outcome import EpochListener, PruneCheck
from autodl.runtime.backend import load_keras
from autodl.spec import schedules


def rename(logs: dict[str, Any]) -> dict[str, float]:
    """Keras log keys to autodl metric names (``val_accuracy`` -> ``dev_accuracy``)."""
    return {
        f"dev_{k.removeprefix('val_')}" if k.startswith("val_") else k: float(v)
        for k, v in logs.items()
    }


class EpochWatch:
    """What happens at the end of each epoch, apart from Keras: the epoch's metrics go to the
    listeners and the history; a NaN loss or a missing objective stops the trial as failed; the
    pruner is asked whether to stop it as pruned.

    ``extra`` adds metrics Keras does not log (dev F1) when the objective needs them per epoch.
    """

    def __init__(
        self,
        objective: str,
        should_prune: PruneCheck,
        listeners: list[EpochListener],
        extra: Callable[[], dict[str, float]] | None,
    ) -> None:
        self.objective = objective
        self.should_prune = should_prune
        self.listeners = listeners
        self.extra = extra
        self.pruned_epoch: int | None = None
        self.stop_reason: str | None = None
        self.history: dict[str, list[float]] = {}

    def epoch_end(self, epoch: int, logs: dict[str, Any] | None) -> bool:
        """Record 0-based ``epoch``; return whether training must stop."""
        metrics_now = rename(logs or {})
        number = epoch + 1
        loss = metrics_now.get("loss", 0.0)
        if not math.isfinite(loss):
            self.stop_reason = f"loss became {loss} at epoch {number}"
        elif self.extra is not None:
            metrics_now.update(self.extra())
        if self.stop_reason is None and self.objective not in metrics_now:
            self.stop_reason = (
                f"the model reports no {self.objective} (it logs {', '.join(sorted(metrics_now))}); "
                f"compile it with that metric or set search.objective.metric to one of those"
            )
        for key, value in metrics_now.items():
            self.history.setdefault(key, []).append(value)
        for listener in self.listeners:
            listener(number, metrics_now)
        if self.stop_reason is not None:
            return True
        objective_value = metrics_now.get(self.objective)
        if (
            objective_value is not None and math.isfinite(objective_value)
            and self.should_prune(number, objective_value)
        ):
            self.pruned_epoch = number
            return True
        return False

    @property
    def epochs(self) -> int:
        """Epochs trained so far."""
        return len(self.history.get("loss", []))


@cache
def _watch_callback_class() -> type:
    """The Keras callback that hands each epoch to an ``EpochWatch`` (defined once Keras is loaded)."""
    keras = load_keras()

    class WatchCallback(keras.callbacks.Callback):  # type: ignore[name-defined]  # a base class from Keras loaded at run time
        def __init__(self, watch: EpochWatch) -> None:
            super().__init__()
            self.watch = watch

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if self.watch.epoch_end(epoch, logs):
                self.model.stop_training = True

    return WatchCallback


def callbacks(
    watch: EpochWatch, config: dict[str, dict[str, Any]], schedule: bool
) -> list[Any]:
    """The trial's callbacks: the schedule (for models autodl compiled), the watch, and early
    stopping on the dev loss when ``training.early_stopping`` is set."""
    keras = load_keras()
    training = config["training"]
    found: list[Any] = []
    if schedule:
        optimizer, epochs = config["optimizer"], training["epochs"]
        found.append(keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: schedules.learning_rate(optimizer, epoch, epochs)
        ))
    found.append(_watch_callback_class()(watch))
    if training.get("early_stopping"):
        found.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=training["early_stopping"], restore_best_weights=True
        ))
    return found
