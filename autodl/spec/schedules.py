"""Learning-rate schedules as pure functions of the 0-based epoch (tested without Keras); the
trial turns the chosen one into a ``LearningRateScheduler`` callback."""

from __future__ import annotations

from typing import Any

from autodl.spec.names import SCHEDULES


def learning_rate(cfg: dict[str, Any], epoch: int, epochs: int) -> float:
    """The rate for 0-based ``epoch`` from a sampled ``optimizer`` section."""
    factor = SCHEDULES.get(cfg["schedule"]).factor(epoch, epochs, cfg["decay_rate"], cfg["decay_epochs"])
    return float(cfg["learning_rate"] * factor)
