"""KerasTuner's ``HyperParameters`` as hypermodels call it, answered by autodl.

Each ``hp.Int`` / ``hp.Float`` / ``hp.Choice`` / ``hp.Boolean`` call names one parameter; a subclass
chooses its value: from the trial (``TrialHyperParameters``, parameter ``model.<name>``) or the
call's default (``DefaultHyperParameters``, for ``autodl sample --defaults`` and a queued defaults
trial). KerasTuner's rules are kept: a parameter under ``conditional_scope`` (or with
``parent_name`` / ``parent_values``) whose parent took another value is inactive, returns ``None``
and is neither sampled nor logged; asking for a name again returns its first value; a default is
``default=`` when given, else the low end (``min_value``), the first choice, or ``False``. With
``sampling="log"``, ``step`` multiplies (``min_value * step**k``), as in KerasTuner. A call or
option autodl does not support fails the trial with its name, never silently.
"""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from autodl.errors import TrialFailed
from autodl.outcome import Suggest
from autodl.spec import params, space

SUPPORTED = ("Int", "Float", "Choice", "Boolean", "Fixed", "get", "is_active", "conditional_scope", "values")
"""What of KerasTuner's HyperParameters a hypermodel may use here."""
FLOAT_SCALES: dict[str, space.Scale] = {"linear": "linear", "log": "log", "reverse_log": "inv_log"}


@dataclass(frozen=True)
class Condition:
    """Active only while the parameter ``parent`` has one of ``values``."""

    parent: str
    values: tuple[Any, ...]


def _as_tuple(values: Any) -> tuple[Any, ...]:
    return tuple(values) if isinstance(values, (list, tuple, set)) else (values,)


def _geometric(call: str, low: float, high: float, step: float, integer: bool) -> space.Choice:
    """The values ``low * step**k`` up to ``high``: KerasTuner's log sampling with a step."""
    if step <= 1 or low <= 0:
        raise TrialFailed(f"{call}: sampling='log' with step={step} needs min_value > 0 and step > 1 "
                          f"(the step multiplies), but got min_value={low}")
    count = int(math.floor(math.log(high / low, step) + 1e-9)) + 1
    values = [low * step**k for k in range(count)]
    return space.Choice(tuple(int(round(v)) if integer else float(f"{v:.12g}") for v in values))


class HyperParameters(ABC):
    """The calls a hypermodel makes; ``values`` holds the active parameters by name."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._inactive: set[str] = set()
        self._scopes: list[Condition] = []

    @abstractmethod
    def _choose(self, name: str, dist: space.Distribution, default: Any) -> Any:
        """The value of an active parameter: from a trial, or its default."""

    def _take(self, call: str, name: str, dist: space.Distribution, default: Any,
              parent_name: str | None, parent_values: Any) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self._inactive or not self._active(call, parent_name, parent_values):
            self._inactive.add(name)
            return None
        if not params.possible(dist, default):
            raise TrialFailed(f"{call}: default={default!r} is not one of its values ({space.describe(dist)})")
        self.values[name] = self._choose(name, dist, default)
        return self.values[name]

    def _active(self, call: str, parent_name: str | None, parent_values: Any) -> bool:
        conditions = list(self._scopes)
        if parent_name is not None:
            conditions.append(Condition(parent_name, _as_tuple(parent_values)))
        for condition in conditions:
            if condition.parent in self._inactive:
                return False
            if condition.parent not in self.values:
                raise TrialFailed(f"{call}: its parent {condition.parent!r} is not defined yet; call "
                                  f"hp for {condition.parent!r} before the parameters that depend on it")
            if self.values[condition.parent] not in condition.values:
                return False
        return True

    def Int(  # noqa: N802  # KerasTuner's method names
        self, name: str, min_value: int, max_value: int, step: int | None = None, sampling: str = "linear",
        default: int | None = None, parent_name: str | None = None, parent_values: Any = None,
    ) -> int | None:
        call = f"hp.Int({name!r})"
        if sampling not in ("linear", "log"):
            raise TrialFailed(f"{call}: sampling={sampling!r} is not supported; use linear or log")
        if sampling == "log" and step not in (None, 1):
            dist: space.Distribution = _geometric(call, min_value, max_value, step, integer=True)
        else:
            dist = space.IntRange(min_value, max_value, step or 1, sampling == "log")
        value = self._take(call, name, dist, min_value if default is None else default, parent_name, parent_values)
        return None if value is None else int(value)

    def Float(  # noqa: N802  # as Int
        self, name: str, min_value: float, max_value: float, step: float | None = None,
        sampling: str = "linear", default: float | None = None, parent_name: str | None = None,
        parent_values: Any = None,
    ) -> float | None:
        call = f"hp.Float({name!r})"
        if sampling not in FLOAT_SCALES:
            raise TrialFailed(f"{call}: unknown sampling={sampling!r}; use linear, log or reverse_log")
        if sampling == "reverse_log" and not 0 <= min_value <= max_value < 1:
            raise TrialFailed(
                f"{call}: reverse_log samples 1 - x on a log scale and needs 0 <= min_value <= "
                f"max_value < 1, but got [{min_value}, {max_value}]"
            )
        if sampling == "reverse_log" and step is not None:
            raise TrialFailed(f"{call}: step={step} with sampling='reverse_log' is not supported; drop the step")
        if sampling == "log" and step is not None:
            dist: space.Distribution = _geometric(call, min_value, max_value, step, integer=False)
        else:
            dist = space.FloatRange(float(min_value), float(max_value), FLOAT_SCALES[sampling],
                                    None if step is None else float(step))
        value = self._take(call, name, dist, min_value if default is None else default, parent_name, parent_values)
        return None if value is None else float(value)

    def Choice(  # noqa: N802  # as Int
        self, name: str, values: list[Any], ordered: bool | None = None, default: Any = None,
        parent_name: str | None = None, parent_values: Any = None,
    ) -> Any:
        if not values:
            raise TrialFailed(f"hp.Choice({name!r}): values is empty")
        return self._take(f"hp.Choice({name!r})", name, space.Choice(tuple(values)),
                          values[0] if default is None else default, parent_name, parent_values)

    def Boolean(  # noqa: N802  # as Int
        self, name: str, default: bool = False, parent_name: str | None = None, parent_values: Any = None,
    ) -> bool | None:
        value = self._take(f"hp.Boolean({name!r})", name, space.Choice((False, True)), default,
                           parent_name, parent_values)
        return None if value is None else bool(value)

    def Fixed(  # noqa: N802  # as Int
        self, name: str, value: Any, parent_name: str | None = None, parent_values: Any = None,
    ) -> Any:
        if name not in self.values and self._active(f"hp.Fixed({name!r})", parent_name, parent_values):
            self.values[name] = value
        return self.values.get(name)

    def get(self, name: str) -> Any:
        """The value of ``name``; ``None`` when it is inactive."""
        if name in self.values:
            return self.values[name]
        if name in self._inactive:
            return None
        known = ", ".join(sorted([*self.values, *self._inactive])) or "none yet"
        raise TrialFailed(f"hp.get({name!r}): no parameter {name!r} is defined (defined: {known})")

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.values or name in self._inactive

    def is_active(self, name: str) -> bool:
        """Whether ``name`` is defined and its conditions hold."""
        return name in self.values

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Any) -> Iterator[None]:
        """Parameters created inside apply only while ``parent_name`` is one of ``parent_values``."""
        if parent_name not in self:
            raise TrialFailed(f"hp.conditional_scope({parent_name!r}): {parent_name!r} is not defined yet; "
                              "call hp for it before opening its scope")
        self._scopes.append(Condition(parent_name, _as_tuple(parent_values)))
        try:
            yield
        finally:
            self._scopes.pop()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise TrialFailed(f"hp.{name} is a KerasTuner call autodl does not support; a hypermodel here may "
                          f"use hp.{', hp.'.join(SUPPORTED)}")


class TrialHyperParameters(HyperParameters):
    """Values sampled from the trial, each under the parameter ``model.<name>``."""

    def __init__(self, suggest: Suggest) -> None:
        super().__init__()
        self._suggest = suggest

    def _choose(self, name: str, dist: space.Distribution, default: Any) -> Any:
        return self._suggest(f"model.{name}", dist)


class DefaultHyperParameters(HyperParameters):
    """Every value at its default; ``recorded()`` gives them as Optuna records them (to queue)."""

    def __init__(self) -> None:
        super().__init__()
        self.distributions: dict[str, space.Distribution] = {}

    def _choose(self, name: str, dist: space.Distribution, default: Any) -> Any:
        self.distributions[name] = dist
        return default

    def recorded(self) -> dict[str, Any]:
        """The sampled defaults under the names and in the form Optuna stores them."""
        found: dict[str, Any] = {}
        for name, dist in self.distributions.items():
            found.update(space.recorded(f"model.{name}", dist, self.values[name]))
        return found
