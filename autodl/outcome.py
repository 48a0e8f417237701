"""What one trial is given and produces, shared by the trial (which fills a ``TrialOutcome``) and
the search (which records it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Config = dict[str, dict[str, Any]]
"""A sampled configuration: every field by section (``config["optimizer"]["learning_rate"]``)."""
EpochListener = Callable[[int, dict[str, float]], None]
Suggest = Callable[[str, Any], Any]
PruneCheck = Callable[[int, float], bool]
State = Literal["complete", "pruned", "failed", "infeasible"]


@dataclass
class TrialOutcome:
    """One trial's result. ``params`` are hyperparameters sampled while building the model (a
    custom ``build(hp)``); ``facts`` are what building and training it measured whatever its
    state (epochs per phase, pretrained vocabulary found); ``model`` is kept only for complete
    trials."""

    state: State
    value: float | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    epochs: int = 0
    pruned_epoch: int | None = None
    params_count: int = 0
    duration_s: float = 0.0
    reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    facts: dict[str, float] = field(default_factory=dict)
    model: Any = None
