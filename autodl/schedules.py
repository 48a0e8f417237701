"""Learning-rate schedules by name: the factor applied to the initial rate at each epoch.

Pure functions of the 0-based epoch, so they are tested without Keras; training turns the chosen
one into a ``LearningRateScheduler`` callback.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Factor = Callable[[int, int, float, int], float]

SCHEDULES: dict[str, Factor] = {
    "constant": lambda epoch, epochs, rate, every: 1.0,
    "inverse_time": lambda epoch, epochs, rate, every: 1.0 / (1.0 + rate * epoch),
    "exponential": lambda epoch, epochs, rate, every: rate**epoch,
    "step": lambda epoch, epochs, rate, every: rate ** (epoch // every),
    "cosine": lambda epoch, epochs, rate, every: 0.5 * (1.0 + math.cos(math.pi * epoch / epochs)),
    "inv_sqrt": lambda epoch, epochs, rate, every: 1.0 / math.sqrt(epoch + 1),
}
DECAYING = ("inverse_time", "exponential", "step")


def learning_rate(cfg: dict, epoch: int, epochs: int) -> float:
    """The rate for 0-based ``epoch`` from a sampled ``optimizer`` section."""
    factor = SCHEDULES[cfg["schedule"]](epoch, epochs, cfg["decay_rate"], cfg["decay_epochs"])
    return float(cfg["learning_rate"] * factor)
