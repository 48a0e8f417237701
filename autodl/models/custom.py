"""Bring your own model: a KerasTuner-style ``build(hp)`` answered from autodl's Optuna trial.

``model: {family: custom, build: "my_models:build"}`` imports ``my_models`` (from the spec's
folder first) when a search starts, never when a spec is validated or sampled. Each ``hp.Int`` /
``hp.Float`` / ``hp.Choice`` / ``hp.Boolean`` call becomes a parameter ``model.<name>`` of the
trial, so the hypermodel gets autodl's sampling, pruning, tracking and export unchanged.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from autodl.errors import SpecError, TrialFailed
from autodl.models.base import Built
from autodl.outcome import Suggest
from autodl.spec import space

DATA_KINDS = ("image", "text", "tabular", "sequence")
Builder = Callable[[Any], Any]


class TrialHyperParameters:
    """The part of KerasTuner's ``HyperParameters`` that hypermodels call, backed by a trial."""

    def __init__(self, suggest: Suggest) -> None:
        self._suggest = suggest
        self.values: dict[str, Any] = {}

    def _take(self, name: str, dist: space.Distribution) -> Any:
        value = self._suggest(f"model.{name}", dist)
        self.values[name] = value
        return value

    def Int(  # noqa: N802  # KerasTuner's method names
        self, name: str, min_value: int, max_value: int, step: int | None = None,
        sampling: str = "linear", default: int | None = None, **_: Any,
    ) -> int:
        if sampling not in ("linear", "log"):
            raise TrialFailed(f"hp.Int({name!r}): sampling={sampling!r} is not supported; use linear or log")
        return int(self._take(name, space.IntRange(min_value, max_value, step or 1, sampling == "log")))

    def Float(  # noqa: N802  # as Int
        self, name: str, min_value: float, max_value: float, step: float | None = None,
        sampling: str = "linear", default: float | None = None, **_: Any,
    ) -> float:
        scales: dict[str, space.Scale] = {"linear": "linear", "log": "log", "reverse_log": "inv_log"}
        if sampling not in scales:
            raise TrialFailed(f"hp.Float({name!r}): unknown sampling={sampling!r}")
        if sampling == "reverse_log" and not 0 <= min_value <= max_value < 1:
            raise TrialFailed(
                f"hp.Float({name!r}): reverse_log samples 1 - x on a log scale and needs "
                f"0 <= min_value <= max_value < 1, but got [{min_value}, {max_value}]"
            )
        scale = scales[sampling]
        return float(self._take(name, space.FloatRange(min_value, max_value, scale, step)))

    def Choice(self, name: str, values: list[Any], ordered: bool | None = None,  # noqa: N802  # as Int
               default: Any = None, **_: Any) -> Any:
        return self._take(name, space.Choice(tuple(values)))

    def Boolean(self, name: str, default: bool = False, **_: Any) -> bool:  # noqa: N802  # as Int
        return bool(self._take(name, space.Choice((False, True))))

    def Fixed(self, name: str, value: Any, **_: Any) -> Any:  # noqa: N802  # as Int
        self.values[name] = value
        return value

    def get(self, name: str) -> Any:
        return self.values[name]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.values

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Any) -> Iterator[None]:
        """Conditions come for free: a branch the code does not run samples nothing."""
        yield


def load_builder(target: str, base_dir: Path) -> Builder:
    """Import ``module:attribute`` (a function, or a KerasTuner HyperModel class or instance)."""
    module_name, _, attribute = target.partition(":")
    folder = str(base_dir)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(
            f"model.build: cannot import {module_name!r} ({exc}). Put {module_name}.py beside the "
            f"spec file or install it. Received: model.build={target!r}"
        ) from None
    found = getattr(module, attribute, None)
    if found is None:
        raise SpecError(
            f"model.build: {module_name} has no {attribute!r}. Received: model.build={target!r}"
        )
    if isinstance(found, type):
        found = found()
    build = getattr(found, "build", found)
    if not callable(build):
        raise SpecError(
            f"model.build: {target} is neither a build(hp) function nor a HyperModel. "
            f"Received: model.build={target!r}"
        )
    return build


def build(user_build: Builder, suggest: Suggest) -> Built:
    """Call the user's builder with a trial-backed ``hp``; keep the values it sampled."""
    hp = TrialHyperParameters(suggest)
    model = user_build(hp)
    if model is None or not hasattr(model, "fit"):
        raise TrialFailed(f"build(hp) returned {type(model).__name__}, not a Keras model")
    if not getattr(model, "compiled", False):
        raise TrialFailed(
            "build(hp) returned a model that is not compiled; call model.compile(optimizer, loss, "
            "metrics=[...]) before returning it, as KerasTuner requires"
        )
    return Built(model, {f"model.{k}": v for k, v in hp.values.items()}, compiled=True)
