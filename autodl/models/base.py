"""What building one trial's model yields, shared by the built-in families and custom builders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autodl.data.dataset import Dataset
from autodl.outcome import Suggest


@dataclass
class Built:
    """A model for one trial; ``params`` holds hyperparameters sampled while building it
    (a custom ``build(hp)``), and ``compiled`` says the builder compiled it already."""

    model: Any
    params: dict[str, Any] = field(default_factory=dict)
    compiled: bool = False


ModelBuilder = Callable[[dict[str, Any], Dataset, Suggest | None], Built]
"""Builds one trial's model from its ``model`` config; ``suggest`` is ``None`` outside a search."""
