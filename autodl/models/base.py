"""What building one trial's model yields, shared by the built-in families and custom builders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from autodl.data.dataset import Dataset
from autodl.outcome import Suggest


@dataclass(frozen=True)
class FineTune:
    """Training in two phases (transfer learning): the head alone for ``head_share`` of the
    epochs, then ``unfreeze()`` and the rest of the epochs at ``learning_rate``."""

    head_share: float
    learning_rate: float
    unfreeze: Callable[[], None]

    def head_epochs(self, epochs: int) -> int:
        """Epochs of the first phase: at least one, at most all."""
        return min(epochs, max(1, round(self.head_share * epochs)))


class OwnFit(Protocol):
    """A hypermodel's own training, in place of ``model.fit`` (``custom.HyperFit``)."""

    def __call__(self, inputs: dict[str, Any], **options: Any) -> None: ...

    def value(self, objective: str) -> float | None:
        """The objective's value that ``fit`` returned, when it returned one instead of a History."""


@dataclass
class Built:
    """A model for one trial; ``params`` holds hyperparameters sampled while building it
    (a custom ``build(hp)``), ``compiled`` says the builder compiled it already, ``fine_tune``
    how it trains in phases, ``fit`` a hypermodel's own training (``custom.HyperFit``: called
    with ``model.fit``'s inputs and keywords), and ``facts`` what building it measured (logged
    with the trial)."""

    model: Any
    params: dict[str, Any] = field(default_factory=dict)
    compiled: bool = False
    fine_tune: FineTune | None = None
    fit: OwnFit | None = None
    facts: dict[str, float] = field(default_factory=dict)


ModelBuilder = Callable[[dict[str, Any], Dataset, Suggest | None], Built]
"""Builds one trial's model from its ``model`` config; ``suggest`` is ``None`` outside a search."""
