"""Samplers by ``search.strategy``: per-trial random (resumable and parallel-safe), TPE, random
then multivariate TPE (``auto``), and the grid, each seeded by the spec's seed."""

from __future__ import annotations

import warnings
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


AUTO_RANDOM_TRIALS = 10
"""``auto``: trials 0..9 are random search; TPE models the space from then on (Optuna's own
``n_startup_trials`` default, below which TPE's density estimates have too few points)."""


class AutoSampler(optuna.samplers.BaseSampler):
    """Random search for the first ``random_trials`` trials, then multivariate TPE.

    Which sampler serves a trial depends on its number alone, so a resumed or parallel search
    hands the same trials to random search as an uninterrupted one (those first trials are exactly
    ``strategy: random``'s). TPE samples the parameters jointly (``multivariate``), splits the space
    by which parameters a trial had (``group``: conditional fields such as ``optimizer.momentum``),
    and counts running trials as bad ones (``constant_liar``) so parallel workers spread out.
    """

    def __init__(self, seed: int, random_trials: int = AUTO_RANDOM_TRIALS) -> None:
        self._random_trials = random_trials
        self._random = PerTrialRandomSampler(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._tpe = optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, constant_liar=True, n_startup_trials=random_trials,
            )

    def _for(self, trial: FrozenTrial) -> optuna.samplers.BaseSampler:
        return self._random if trial.number < self._random_trials else self._tpe

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, optuna.distributions.BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, Any]
    ) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: optuna.distributions.BaseDistribution,
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Any
    ) -> None:
        self._for(trial).after_trial(study, trial, state, values)


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
    "auto": lambda spec: AutoSampler(spec.seed),
    "grid": grid_sampler,
})


def make_sampler(spec: Spec) -> optuna.samplers.BaseSampler:
    """The sampler named by ``search.strategy``, seeded by the spec's seed."""
    return SAMPLERS[spec.search.strategy](spec)
