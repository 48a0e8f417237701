"""Samplers by ``search.strategy``: per-trial random (resumable and parallel-safe), TPE, and the
grid, each seeded by the spec's seed."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from autodl.spec import Spec, space
from autodl.spec.names import STRATEGIES

ALLOWED_ATTR = "allowed_choices"
"""Trial attribute: the values each narrowed choice may take in this trial's stage."""


class PerTrialRandomSampler(optuna.samplers.BaseSampler):
    """Random search whose trial ``n`` depends only on (seed, n, parameter name).

    A resumed or parallel search therefore samples exactly what an uninterrupted one would. A
    trial may narrow a choice to some of its values (a coarse-to-fine stage) with the user
    attribute ``allowed_choices``: Optuna keeps one set of choices per parameter and study.
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, Any]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: optuna.distributions.BaseDistribution,
    ) -> Any:
        key = zlib.crc32(f"{self._seed}:{trial.number}:{param_name}".encode())
        allowed = trial.user_attrs.get(ALLOWED_ATTR, {}).get(param_name)
        if allowed is not None and isinstance(param_distribution, optuna.distributions.CategoricalDistribution):
            choices = [c for c in param_distribution.choices if c in allowed]
            return choices[int(np.random.default_rng(key).integers(len(choices)))]
        return optuna.samplers.RandomSampler(seed=key).sample_independent(
            study, trial, param_name, param_distribution
        )


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler without its ``study.stop()`` once the grid is used up, which only
    works inside ``Study.optimize``; the ask/tell loop checks ``is_exhausted`` itself."""

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Any
    ) -> None:
        return None


def grid_sampler(spec: Spec) -> optuna.samplers.BaseSampler:
    """Every combination of each searched parameter's grid values, in an order shuffled by the
    seed (so a search cut short still spreads over the grid)."""
    grid = dict(space.grid_values(name, dist, spec.search.grid_points)
                for name, dist in spec.searched().items())
    return AskTellGridSampler(grid, seed=spec.seed)


def grid_size(spec: Spec) -> int:
    """How many points the grid of ``spec`` has."""
    size = 1
    for name, dist in spec.searched().items():
        size *= len(space.grid_values(name, dist, spec.search.grid_points)[1])
    return size


SamplerFactory = Callable[[Spec], optuna.samplers.BaseSampler]
SAMPLERS: dict[str, SamplerFactory] = STRATEGIES.bind({
    "random": lambda spec: PerTrialRandomSampler(spec.seed),
    "coarse_to_fine": lambda spec: PerTrialRandomSampler(spec.seed),
    "tpe": lambda spec: optuna.samplers.TPESampler(seed=spec.seed),
    "grid": grid_sampler,
})


def make_sampler(spec: Spec) -> optuna.samplers.BaseSampler:
    """The sampler named by ``search.strategy``, seeded by the spec's seed."""
    return SAMPLERS[spec.search.strategy](spec)
