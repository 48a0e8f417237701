"""The names a spec may use for optimizers, schedules, strategies, pruners and export formats.

Each kind is one registry. The spec's fields, the built-in conditions of optimizer settings and
the later stages' implementations (Keras optimizers, Optuna samplers and pruners, export formats)
are all derived from or checked against these lists.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from autodl.spec.registry import Entry, Registry


@dataclass(frozen=True)
class Optimizer:
    """An optimizer: its Keras class and the ``optimizer.*`` settings it takes (besides the
    learning rate and clipping, which every optimizer takes)."""

    name: str
    keras_class: str
    settings: tuple[str, ...]


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer", "optimizer.name", [
    Optimizer("adam", "Adam", ("beta_1", "beta_2", "epsilon")),
    Optimizer("adamw", "AdamW", ("weight_decay", "beta_1", "beta_2", "epsilon")),
    Optimizer("sgd", "SGD", ("momentum", "nesterov")),
    Optimizer("rmsprop", "RMSprop", ("rho", "momentum", "epsilon")),
])

Factor = Callable[[int, int, float, int], float]
"""A schedule's factor on the initial rate from (0-based epoch, epochs, decay_rate, decay_epochs)."""


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule and the ``optimizer.decay_*`` settings it reads."""

    name: str
    factor: Factor
    settings: tuple[str, ...] = ()


SCHEDULES: Registry[Schedule] = Registry("schedule", "optimizer.schedule", [
    Schedule("constant", lambda epoch, epochs, rate, every: 1.0),
    Schedule("inverse_time", lambda epoch, epochs, rate, every: 1.0 / (1.0 + rate * epoch),
             ("decay_rate",)),
    Schedule("exponential", lambda epoch, epochs, rate, every: rate**epoch, ("decay_rate",)),
    Schedule("step", lambda epoch, epochs, rate, every: rate ** (epoch // every),
             ("decay_rate", "decay_epochs")),
    Schedule("cosine", lambda epoch, epochs, rate, every: 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))),
    Schedule("inv_sqrt", lambda epoch, epochs, rate, every: 1.0 / math.sqrt(epoch + 1)),
])

STRATEGIES: Registry[Entry] = Registry("search strategy", "search.strategy", [
    Entry("auto"), Entry("random"), Entry("tpe"), Entry("coarse_to_fine"), Entry("grid"),
])

PRUNERS: Registry[Entry] = Registry("pruner", "search.pruner.name", [
    Entry("none"), Entry("median"), Entry("percentile"), Entry("successive_halving"),
    Entry("hyperband"), Entry("patient"),
])
WRAPPING_PRUNERS = ("patient",)
"""Pruners that wrap another (``search.pruner.wraps`` names one of the others)."""

EXPORT_FORMATS: Registry[Entry] = Registry("export format", "export.formats", [
    Entry("keras"), Entry("saved_model"), Entry("tflite"), Entry("onnx"),
])


def settings_used(registry: Registry[Optimizer] | Registry[Schedule], section: str,
                  selector: str) -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    """Built-in conditions, by setting: each applies only when ``section.selector`` names an
    entry that reads it (``momentum`` only while ``optimizer.name`` is sgd or rmsprop)."""
    readers: dict[str, list[str]] = {}
    for entry in registry:
        for setting in entry.settings:
            readers.setdefault(setting, []).append(entry.name)
    return {setting: ((f"{section}.{selector}", tuple(names)),) for setting, names in readers.items()}
