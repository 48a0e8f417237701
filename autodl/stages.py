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
from typing import Any

from autodl import space

MIN_KEPT = 2


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
