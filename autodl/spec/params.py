"""The hyperparameters of a spec: their names, when each applies, and the order to sample them.

A parameter applies only when its conditions hold: the ones built in and the ones a user writes
with ``when:``. Built-in conditions name other parameters (``optimizer.momentum`` only for SGD and
RMSprop, Adam's betas only for Adam and AdamW, ``model.padding`` only without residual blocks) or
facts of the search (``training.loss`` only for regression, text settings only for text, image
augmentation only for images). An inactive parameter, fixed or searched, is neither sampled nor
logged; the model is built with its default. ``applies`` is the one place that decides.
This module imports neither TensorFlow nor Optuna.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autodl.spec import space
from autodl.spec.fields import FACTS
from autodl.spec.space import Conditions

Facts = Mapping[str, str]
"""Known facts of a search by name (``data.kind``, ``data.task``, ``model.family``); a fact left
out is not known yet (the data unread), and a condition on it holds."""


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its fixed value or distribution, when it applies, its fallback."""

    name: str
    value: Any
    when: Conditions
    default: Any

    @property
    def searched(self) -> bool:
        return isinstance(self.value, space.DISTRIBUTION_TYPES)


def possible(value: Any, candidate: Any) -> bool:
    """Whether ``candidate`` is a value that ``value`` (fixed or distribution) can take."""
    if isinstance(value, space.Choice):
        return candidate in value.values
    if isinstance(value, (space.IntRange, space.FloatRange)):
        numeric = isinstance(candidate, (int, float)) and not isinstance(candidate, bool)
        return numeric and value.low <= candidate <= value.high
    return bool(candidate == value)


def default_of(param: Param) -> Any:
    """The value a parameter takes when nothing is sampled (``autodl sample --defaults``, a queued
    defaults trial): a fixed one as given; a searched one at the field's own default when its
    distribution can take that, else in the middle of its range on its scale (geometric for
    log scales), or a choice's first value."""
    dist = param.value
    if not param.searched:
        return dist
    if not isinstance(param.default, space.DISTRIBUTION_TYPES) and possible(dist, param.default):
        return param.default
    if isinstance(dist, space.Choice):
        return dist.values[0]
    if isinstance(dist, space.IntRange):
        middle = (dist.low * dist.high) ** 0.5 if dist.log else (dist.low + dist.high) / 2
        return min(dist.high, dist.low + round((middle - dist.low) / dist.step) * dist.step)
    if dist.scale == "log":
        return float(f"{(dist.low * dist.high) ** 0.5:.4g}")
    if dist.scale == "inv_log":
        return float(f"{1.0 - ((1.0 - dist.low) * (1.0 - dist.high)) ** 0.5:.6g}")
    middle = (dist.low + dist.high) / 2
    if dist.step:
        middle = dist.low + round((middle - dist.low) / dist.step) * dist.step
    return float(f"{middle:.10g}")


def collect(sections: dict[str, Any]) -> dict[str, Param]:
    """Every hyperparameter of the sections, keyed ``section.field``, in declaration order."""
    found: dict[str, Param] = {}
    for section_name, section in sections.items():
        for field_name in section.hyperparameters():
            value = getattr(section, field_name)
            name = f"{section_name}.{field_name}"
            explicit = value.when if isinstance(value, space.DISTRIBUTION_TYPES) else ()
            default = type(section).model_fields[field_name].default
            builtin = type(section).applies_when().get(field_name, ())
            found[name] = Param(name, value, builtin + explicit, default)
    return found


def check(params: dict[str, Param]) -> list[str]:
    """Cross-field problems with ``when:`` conditions, one ``path: message`` line each."""
    problems: list[str] = []
    for param in params.values():
        if not isinstance(param.value, space.DISTRIBUTION_TYPES):
            continue
        for ref, allowed in param.value.when:
            where = f"{param.name}.when"
            if ref not in params:
                hint = difflib.get_close_matches(ref, list(params), n=1)
                did = f"; did you mean {hint[0]!r}?" if hint else "."
                problems.append(f"{where}: unknown parameter {ref!r}{did} Received: {where}={ref!r}")
                continue
            if ref == param.name:
                problems.append(f"{where}: a parameter cannot depend on itself. Received: {where}={ref!r}")
                continue
            for candidate in allowed:
                if not possible(params[ref].value, candidate):
                    problems.append(
                        f"{where}: {ref} can never be {candidate!r} (it is "
                        f"{space.describe(params[ref].value)}). Received: {where}.{ref}={candidate!r}"
                    )
        if param.value.when and isinstance(param.default, space.DISTRIBUTION_TYPES):
            problems.append(
                f"{param.name}.when: this parameter has no fixed default to fall back on when "
                f"inactive. Received: {param.name}.when={as_written(param.value.when)!r}"
            )
    if not problems:
        cycle = _find_cycle(params)
        if cycle:
            problems.append(
                f"{cycle[0]}.when: conditions form a cycle: {' -> '.join(cycle)}. "
                f"Received: {cycle[0]}.when={as_written(params[cycle[0]].when)!r}"
            )
    return problems


def as_written(conditions: Conditions) -> dict[str, Any]:
    """Conditions the way a spec writes them: one value alone, several as a list."""
    return {name: allowed[0] if len(allowed) == 1 else list(allowed) for name, allowed in conditions}


def _find_cycle(params: dict[str, Param]) -> list[str]:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        path.append(name)
        for ref, _ in params[name].when:
            if ref not in params:
                continue
            if state.get(ref) == 1:
                return path[path.index(ref):] + [ref]
            if ref not in state:
                found = visit(ref)
                if found:
                    return found
        state[name] = 2
        path.pop()
        return []

    for name in params:
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []


def ordered(params: dict[str, Param]) -> list[Param]:
    """Parameters with every condition's parameter before the parameters that depend on it."""
    done: dict[str, Param] = {}

    def place(name: str) -> None:
        if name in done:
            return
        for ref, _ in params[name].when:
            if ref in params:
                place(ref)
        done[name] = params[name]

    for name in params:
        place(name)
    return list(done.values())


def facts(family: str | None = None, kind: str | None = None, task: str | None = None,
          embeddings: str | None = None) -> dict[str, str]:
    """The facts conditions may name: the model family and its embeddings (``learned`` or
    ``pretrained``), and once the data is read its kind (image, text, tabular, sequence) and
    task; one not given is left out."""
    known = {"model.family": family, "data.kind": kind, "data.task": task, "model.embeddings": embeddings}
    return {name: value for name, value in known.items() if value is not None}


def applies(param: Param, values: dict[str, Any], active: set[str], known: Facts) -> bool:
    """Whether ``param`` applies, given the values (and activity) of the ones placed before it
    and the facts known; a condition on a fact not known yet holds."""
    for ref, allowed in param.when:
        if ref in FACTS:
            if ref in known and known[ref] not in allowed:
                return False
        elif not (ref in active and values[ref] in allowed):
            return False
    return True
