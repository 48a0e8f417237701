"""Search-space distributions, their scales, and sampling them from an Optuna trial.

Any hyperparameter in a spec is either a fixed value or one of:

* ``{int: [low, high], step: 1, log: false}``
* ``{float: [low, high], scale: linear | log | inv_log, step: null}``
* ``{choice: [a, b, ...]}``
* ``{bool: true}`` (searches true and false)

Each may add ``when: {other.parameter: value or [values]}``: the parameter then applies only in
trials where the other parameters took those values.

``log`` spends equal samples on each decade (learning rates). ``inv_log`` samples ``1 - x`` on a
log scale (momentum, Adam's beta): for [0.9, 0.999] half the samples land above 0.99.
This module imports neither TensorFlow nor Optuna at load time.
"""

from __future__ import annotations

import builtins
import difflib
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, Union

if TYPE_CHECKING:
    import optuna

Scale = Literal["linear", "log", "inv_log"]
Conditions = tuple[tuple[str, tuple[Any, ...]], ...]
SCALES: tuple[str, ...] = ("linear", "log", "inv_log")
INV_LOG_PREFIX = "1-"


@dataclass(frozen=True)
class IntRange:
    """Integers in [low, high] (inclusive), every ``step``, optionally on a log scale."""

    low: int
    high: int
    step: int = 1
    log: bool = False
    when: Conditions = ()


@dataclass(frozen=True)
class FloatRange:
    """Floats in [low, high] on a linear, log or inverse-log scale."""

    low: float
    high: float
    scale: Scale = "linear"
    step: float | None = None
    when: Conditions = ()


@dataclass(frozen=True)
class Choice:
    """One of a list of values of any YAML type."""

    values: tuple[Any, ...]
    when: Conditions = ()


Distribution = Union[IntRange, FloatRange, Choice]
DISTRIBUTION_TYPES = (IntRange, FloatRange, Choice)


@dataclass(frozen=True)
class ValueKind:
    """What a fixed value of one hyperparameter must look like."""

    type: type
    options: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    extra_types: tuple[builtins.type, ...] = field(default_factory=tuple)  # the field above shadows type

    def describe(self) -> str:
        """A short human description, used in error messages."""
        if self.options is not None:
            text = "one of " + ", ".join(repr(o) for o in self.options)
        else:
            text = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[
                self.type
            ]
            if self.minimum is not None and self.maximum is not None:
                text += f" in [{self.minimum}, {self.maximum}]"
            elif self.minimum is not None:
                text += f" >= {self.minimum}"
            elif self.maximum is not None:
                text += f" <= {self.maximum}"
        if self.nullable:
            text += " (or null)"
        return text

    def check(self, value: Any) -> Any:
        """Return ``value`` (ints widened to float for float kinds) or raise ``ValueError``."""
        if value is None and self.nullable:
            return None
        if isinstance(value, self.extra_types):
            return value
        ok = _is_type(value, self.type) and (self.type is not float or math.isfinite(value))
        if ok and self.options is not None and value not in self.options:
            hint = _closest(str(value), self.options)
            raise ValueError(f"expected {self.describe()}{hint}")
        if ok and self.type in (int, float):
            if self.minimum is not None and value < self.minimum:
                ok = False
            if self.maximum is not None and value > self.maximum:
                ok = False
        if not ok:
            raise ValueError(f"expected {self.describe()} or a distribution")
        return float(value) if self.type is float else value


def _is_type(value: Any, expected: type) -> bool:
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _closest(word: str, options: tuple[str, ...] | list[str]) -> str:
    match = difflib.get_close_matches(word, [str(o) for o in options], n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


DIST_KEYS: dict[str, tuple[str, ...]] = {
    "int": ("int", "step", "log", "when"),
    "float": ("float", "scale", "step", "when"),
    "choice": ("choice", "when"),
    "bool": ("bool", "when"),
}
DIST_USAGE = (
    "a fixed value or one of {int: [low, high]}, {float: [low, high], scale: linear|log|inv_log}, "
    "{choice: [...]}, {bool: true}"
)


def parse(raw: Any, kind: ValueKind) -> Any:
    """Turn a raw spec value into a checked fixed value or a ``Distribution``.

    Raises ``ValueError`` with a message that says what was expected.
    """
    if isinstance(raw, DISTRIBUTION_TYPES):
        return raw
    if not isinstance(raw, dict):
        return kind.check(raw)
    tags = [k for k in raw if k in DIST_KEYS]
    if len(tags) != 1:
        unknown = [str(k) for k in raw if k not in DIST_KEYS]
        hint = _closest(unknown[0], list(DIST_KEYS)) if len(unknown) == 1 and not tags else ""
        raise ValueError(f"expected {DIST_USAGE}{hint}")
    tag = tags[0]
    for key in raw:
        if key not in DIST_KEYS[tag]:
            raise ValueError(
                f"unknown key {key!r} in {'an' if tag == 'int' else 'a'} {tag} distribution"
                f"{_closest(str(key), DIST_KEYS[tag])}"
                f" (allowed: {', '.join(DIST_KEYS[tag])})"
            )
    when = _parse_when(raw["when"]) if "when" in raw else ()
    if tag == "choice":
        return replace(_parse_choice(raw["choice"], kind), when=when)
    if tag == "bool":
        if kind.type is not bool:
            raise ValueError(f"a bool distribution does not fit here: expected {kind.describe()}")
        if raw["bool"] is not True:
            raise ValueError(
                "bool takes true (search both true and false); for a fixed value write true or "
                "false without {bool: ...}"
            )
        return Choice((False, True), when)
    bounds = raw[tag]
    if not (isinstance(bounds, list) and len(bounds) == 2):
        raise ValueError(f"{tag} needs a list [low, high]")
    if tag == "int":
        return replace(_parse_int(bounds, raw.get("step", 1), raw.get("log", False), kind), when=when)
    return replace(_parse_float(bounds, raw.get("scale", "linear"), raw.get("step"), kind), when=when)


def _parse_when(raw: Any) -> Conditions:
    """``{optimizer.name: sgd}`` or ``{model.cell: [lstm, gru]}`` -> conditions."""
    if not isinstance(raw, dict) or not raw:
        raise ValueError(
            "when needs a mapping of parameter names to a value or a list of values, e.g. "
            "when: {optimizer.name: sgd}"
        )
    conditions = []
    for name, allowed in raw.items():
        values = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        if not isinstance(name, str) or "." not in name or not values:
            raise ValueError(
                f"when refers to parameters as section.field with at least one value, but got "
                f"{name!r}: {allowed!r}"
            )
        conditions.append((name, values))
    return tuple(conditions)


def _parse_choice(values: Any, kind: ValueKind) -> Choice:
    if not isinstance(values, list) or not values:
        raise ValueError("choice needs a non-empty list of values")
    checked = tuple(kind.check(v) for v in values)
    if len(set(map(repr, checked))) != len(checked):
        raise ValueError("choice lists a value twice")
    return Choice(checked)


def _bounds(tag: str, bounds: list[Any], kind: ValueKind) -> tuple[Any, Any]:
    """Checked [low, high] of an int or float distribution of a field of ``kind``."""
    if kind.type is not {"int": int, "float": float}[tag]:
        article = "an" if tag == "int" else "a"
        raise ValueError(f"{article} {tag} distribution does not fit here: expected {kind.describe()}")
    low, high = (kind.check(b) for b in bounds)
    if low > high:
        raise ValueError(f"low must be <= high, but got low={low}, high={high}")
    return low, high


def _parse_int(bounds: list[Any], step: Any, log: Any, kind: ValueKind) -> IntRange:
    low, high = _bounds("int", bounds, kind)
    if not _is_type(step, int) or step < 1:
        raise ValueError(f"step must be a positive integer, but got step={step!r}")
    if not isinstance(log, bool):
        raise ValueError(f"log must be true or false, but got log={log!r}")
    if log and (low < 1 or step != 1):
        raise ValueError("log=true needs low >= 1 and step=1")
    return IntRange(low, high, step, log)


def _parse_float(bounds: list[Any], scale: Any, step: Any, kind: ValueKind) -> FloatRange:
    low, high = _bounds("float", bounds, kind)
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}, but got scale={scale!r}")
    if scale == "log" and low <= 0:
        raise ValueError(f"scale=log needs low > 0, but got low={low}")
    if scale == "inv_log" and not (low >= 0 and high < 1):
        raise ValueError(f"scale=inv_log needs 0 <= low and high < 1, but got [{low}, {high}]")
    if step is not None:
        if not _is_type(step, float) or not math.isfinite(step) or step <= 0:
            raise ValueError(f"step must be a positive number, but got step={step!r}")
        if scale != "linear":
            raise ValueError(f"step works only with scale=linear, but got scale={scale}")
    return FloatRange(low, high, scale, None if step is None else float(step))


def suggest(trial: optuna.trial.BaseTrial, name: str, dist: Distribution) -> Any:
    """Sample one value of ``dist`` from ``trial`` under the parameter ``name``."""
    if isinstance(dist, IntRange):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatRange):
        if dist.scale == "inv_log":
            rest = trial.suggest_float(
                INV_LOG_PREFIX + name, 1.0 - dist.high, 1.0 - dist.low, log=True
            )
            return 1.0 - rest
        return trial.suggest_float(
            name, dist.low, dist.high, step=dist.step, log=dist.scale == "log"
        )
    if _plain_choices(dist):
        return trial.suggest_categorical(name, list(dist.values))
    index = trial.suggest_categorical(name, list(range(len(dist.values))))
    return dist.values[index]


def grid_values(name: str, dist: Distribution, points: int) -> tuple[str, list[Any]]:
    """The values a grid search tries for ``dist``, under the name Optuna records them by.

    A numeric range gets ``points`` values evenly spaced on its own scale (rounded to its step); an
    int range with no more values than that uses them all; a choice uses every value.
    """
    if isinstance(dist, Choice):
        return name, recorded_choices(dist, dist.values)
    if isinstance(dist, IntRange):
        every = list(range(dist.low, dist.high + 1, dist.step))
        if len(every) <= points:
            return name, every
        spots = _spaced(dist.low, dist.high, points, "log" if dist.log else "linear")
        return name, sorted({dist.low + round((v - dist.low) / dist.step) * dist.step for v in spots})
    if dist.scale == "inv_log":
        return INV_LOG_PREFIX + name, _spaced(1.0 - dist.high, 1.0 - dist.low, points, "log")
    spots = _spaced(dist.low, dist.high, points, dist.scale)
    if dist.step:
        spots = sorted({round(dist.low + round((v - dist.low) / dist.step) * dist.step, 12) for v in spots})
    return name, spots


def _spaced(low: float, high: float, points: int, scale: str) -> list[float]:
    """``points`` values from ``low`` to ``high``, evenly spaced on a linear or log scale."""
    if scale == "log":
        ratio = (high / low) ** (1.0 / (points - 1))
        inner = [low * ratio**i for i in range(1, points - 1)]
    else:
        width = (high - low) / (points - 1)
        inner = [low + width * i for i in range(1, points - 1)]
    return [low, *(float(f"{v:.10g}") for v in inner), high]


def _plain_choices(dist: Choice) -> bool:
    return all(v is None or isinstance(v, (bool, int, float, str)) for v in dist.values)


def recorded(name: str, dist: Distribution, value: Any) -> dict[str, Any]:
    """How Optuna records ``value`` of ``dist`` under ``name`` (``suggest`` is the other way):
    ``1 - value`` under a prefixed name on an ``inv_log`` scale, an index for choices of values
    Optuna cannot store, else the value itself."""
    if isinstance(dist, FloatRange) and dist.scale == "inv_log":
        return {INV_LOG_PREFIX + name: 1.0 - value}
    if isinstance(dist, Choice) and not _plain_choices(dist):
        return {name: dist.values.index(value)}
    return {name: value}


def recorded_choices(dist: Choice, values: tuple[Any, ...]) -> list[Any]:
    """How Optuna records ``values`` of ``dist``: the values themselves, or their indices."""
    if _plain_choices(dist):
        return list(values)
    return [i for i, v in enumerate(dist.values) if v in values]


def as_raw(dist: Distribution) -> dict[str, Any]:
    """A distribution as JSON-ready data (stored with a study), read back by ``from_raw``."""
    return {"type": type(dist).__name__, **{k: list(v) if isinstance(v, tuple) else v
                                             for k, v in vars(dist).items()}}


def from_raw(raw: dict[str, Any]) -> Distribution:
    """The distribution ``as_raw`` wrote."""
    kind = {cls.__name__: cls for cls in DISTRIBUTION_TYPES}[raw["type"]]
    fields = {k: v for k, v in raw.items() if k != "type"}
    if "values" in fields:
        fields["values"] = tuple(fields["values"])
    fields["when"] = tuple((name, tuple(allowed)) for name, allowed in fields.get("when", ()))
    return kind(**fields)


def candidates(value: Any) -> list[Any]:
    """The values a fixed value or distribution can take; the two ends for numeric ranges."""
    if isinstance(value, (IntRange, FloatRange)):
        return [value.low, value.high]
    if isinstance(value, Choice):
        return list(value.values)
    return [value]


def describe(value: Any) -> str:
    """Render a fixed value or distribution the way a user would write it."""
    if isinstance(value, DISTRIBUTION_TYPES) and value.when:
        conditions = ", ".join(
            f"{name} in [{', '.join(_plain(v) for v in allowed)}]" for name, allowed in value.when
        )
        return f"{describe(replace(value, when=()))} when {conditions}"
    if isinstance(value, IntRange):
        extra = (f", step {value.step}" if value.step != 1 else "") + (", log" if value.log else "")
        return f"int [{value.low}, {value.high}]{extra}"
    if isinstance(value, FloatRange):
        step = f", step {value.step:g}" if value.step else ""
        return f"float [{value.low:g}, {value.high:g}] {value.scale}{step}"
    if isinstance(value, Choice):
        return "choice [" + ", ".join(_plain(v) for v in value.values) + "]"
    return _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if value and (abs(value) < 1e-3 or abs(value) >= 1e4) else f"{value:g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)

