"""Coarse-to-fine search: each stage samples a space zoomed onto the best trials so far.

Stage 1 samples the whole space at random. Before each later stage, the best finished trials
(a top quantile or a top-k) are kept. Each numeric range is narrowed to the span of their values
on the parameter's own scale (log, inv_log), widened by a margin and clipped to the original
range. Each choice keeps only the values those trials took. Ranges are computed once per stage
and stored with the study, so a resumed search samples the same stage ranges.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, cast

import optuna
from optuna.trial import TrialState

from autodl.runtime.log import logger
from autodl.search.study import complete_value
from autodl.spec import Spec, space

MIN_KEPT = 2
STAGE_ATTR = "stage_{}_space"
"""Study attribute holding stage k's space (k >= 2), as ``space.as_raw`` data."""
Space = dict[str, space.Distribution]


def stage_sizes(trials: int, stages: int) -> list[int]:
    """Trials per stage: as even as possible, earlier stages taking the remainder."""
    base, extra = divmod(trials, stages)
    return [base + (1 if i < extra else 0) for i in range(stages)]


def stage_of(number: int, sizes: list[int]) -> int:
    """The 0-based stage of the trial that is the ``number``-th to start (0-based)."""
    total = 0
    for stage, size in enumerate(sizes):
        total += size
        if number < total:
            return stage
    return len(sizes) - 1


def kept_count(finished: int, keep: float) -> int:
    """How many of ``finished`` trials to keep: a quantile (< 1) or a count (>= 1)."""
    count = math.ceil(finished * keep) if keep < 1 else int(keep)
    return min(finished, max(count, MIN_KEPT))


def _to_scale(dist: space.IntRange | space.FloatRange, value: float) -> float:
    if isinstance(dist, space.FloatRange) and dist.scale == "inv_log":
        return math.log(1.0 - value)
    if (isinstance(dist, space.FloatRange) and dist.scale == "log") or (
        isinstance(dist, space.IntRange) and dist.log
    ):
        return math.log(value)
    return float(value)


def _from_scale(dist: space.IntRange | space.FloatRange, value: float) -> float:
    if isinstance(dist, space.FloatRange) and dist.scale == "inv_log":
        return 1.0 - math.exp(value)
    if (isinstance(dist, space.FloatRange) and dist.scale == "log") or (
        isinstance(dist, space.IntRange) and dist.log
    ):
        return math.exp(value)
    return value


def narrow(dist: space.Distribution, values: list[Any], margin: float) -> space.Distribution:
    """The part of ``dist`` around ``values`` (the kept trials' values), widened by ``margin``."""
    if isinstance(dist, space.Choice):
        seen = [v for v in dist.values if v in values]
        return replace(dist, values=tuple(seen)) if seen else dist
    if not values:
        return dist
    ends = sorted((_to_scale(dist, dist.low), _to_scale(dist, dist.high)))
    points = [_to_scale(dist, v) for v in values]
    width = (max(points) - min(points)) or (ends[1] - ends[0]) * margin
    low = max(ends[0], min(points) - margin * width)
    high = min(ends[1], max(points) + margin * width)
    a, b = sorted((_from_scale(dist, low), _from_scale(dist, high)))
    if isinstance(dist, space.IntRange):
        first = dist.low + math.floor((a - dist.low) / dist.step + 1e-9) * dist.step
        last = dist.low + math.ceil((b - dist.low) / dist.step - 1e-9) * dist.step
        return replace(dist, low=max(dist.low, first), high=min(dist.high, last))
    return replace(dist, low=max(dist.low, a), high=min(dist.high, b))


def zoom(
    searched: dict[str, space.Distribution],
    best: list[dict[str, Any]],
    margin: float,
) -> dict[str, space.Distribution]:
    """Every searched parameter narrowed to the values the ``best`` trials' params took."""
    return {
        name: narrow(dist, [p[name] for p in best if name in p], margin)
        for name, dist in searched.items()
    }


def stored_stages(study: optuna.Study) -> dict[int, Space]:
    """The spaces of stages 2, 3, ... that the study has stored so far (the one reader of them)."""
    found: dict[int, Space] = {}
    stage = 2
    while (raw := study.user_attrs.get(STAGE_ATTR.format(stage))) is not None:
        found[stage] = {name: space.from_raw(dist) for name, dist in raw.items()}
        stage += 1
    return found


def stage_distributions(study: optuna.Study, whole: Space) -> dict[int, Space]:
    """Each coarse-to-fine stage's space so far, stage 1 being ``whole``."""
    return {1: whole, **stored_stages(study)}


def stage_spaces(spec: Spec, study: optuna.Study) -> dict[int, dict[str, str]]:
    """Each coarse-to-fine stage's space so far, described; empty for other strategies."""
    if spec.search.strategy != "coarse_to_fine":
        return {}
    return {stage: {name: space.describe(dist) for name, dist in spaces.items()}
            for stage, spaces in stage_distributions(study, spec.searched()).items()}


def _zoomed_space(spec: Spec, study: optuna.Study, stage: int) -> Space:
    """Stage ``stage``'s space (0-based), computed and stored when its first trial starts.

    The whole space zoomed onto the best complete trials so far; with fewer than two complete
    trials, the whole space.
    """
    key = STAGE_ATTR.format(stage + 1)
    stored = study.user_attrs.get(key)
    if stored is not None:
        return {name: space.from_raw(raw) for name, raw in stored.items()}
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ranked = sorted(complete, key=complete_value,
                    reverse=spec.search.objective.resolved_direction == "maximize")
    kept = ranked[: kept_count(len(ranked), spec.search.keep)]
    best = [t.user_attrs.get("params", {}) for t in kept]
    whole = spec.searched()
    zoomed = zoom(whole, best, spec.search.margin) if len(best) >= MIN_KEPT else whole
    study.set_user_attr(key, {name: space.as_raw(dist) for name, dist in zoomed.items()})
    logger.info(
        "stage %d of %d, from the best %d trials: %s", stage + 1, spec.search.stages, len(best),
        "; ".join(f"{name} {space.describe(dist)}" for name, dist in zoomed.items()),
    )
    return zoomed


def stage_spec(
    spec: Spec, study: optuna.Study, number: int
) -> tuple[Spec, int | None, dict[str, list[Any]]]:
    """The spec trial ``number`` samples from, its 1-based coarse-to-fine stage, and the values
    each narrowed choice may take (as Optuna records them: values, or indices).

    Later trials and resumed searches read a stage's stored space back, so they sample the same
    ranges.
    """
    if spec.search.strategy != "coarse_to_fine":
        return spec, None, {}
    stage = stage_of(number, stage_sizes(spec.search.trials, spec.search.stages))
    if stage == 0:
        return spec, 1, {}
    zoomed = _zoomed_space(spec, study, stage)
    ranges = {n: d for n, d in zoomed.items() if not isinstance(d, space.Choice)}
    whole = spec.searched()
    allowed = {
        name: space.recorded_choices(cast(space.Choice, whole[name]), dist.values)  # zoom() keeps each kind
        for name, dist in zoomed.items() if isinstance(dist, space.Choice)
    }
    return spec.with_distributions(ranges), stage + 1, allowed
