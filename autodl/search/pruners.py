"""Pruners by ``search.pruner.name``. Steps are 1-based epochs."""

from __future__ import annotations

from collections.abc import Callable

import optuna

from autodl.spec import Spec
from autodl.spec.names import PRUNERS as PRUNER_NAMES
from autodl.spec.sections import PrunerSpec

PrunerFactory = Callable[[PrunerSpec, Spec], optuna.pruners.BasePruner]


def _max_epochs(spec: Spec) -> int | str:
    epochs = spec.training.epochs
    return epochs if isinstance(epochs, int) else "auto"


PRUNERS: dict[str, PrunerFactory] = PRUNER_NAMES.bind({
    "none": lambda p, s: optuna.pruners.NopPruner(),
    "median": lambda p, s: optuna.pruners.MedianPruner(
        n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_epochs + 1
    ),
    "percentile": lambda p, s: optuna.pruners.PercentilePruner(
        p.percentile, n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_epochs + 1
    ),
    "successive_halving": lambda p, s: optuna.pruners.SuccessiveHalvingPruner(
        min_resource=max(1, p.warmup_epochs)
    ),
    "hyperband": lambda p, s: optuna.pruners.HyperbandPruner(
        min_resource=max(1, p.warmup_epochs), max_resource=_max_epochs(s)
    ),
    "patient": lambda p, s: optuna.pruners.PatientPruner(
        PRUNERS[p.wraps](p, s), patience=p.patience, min_delta=p.min_delta
    ),
})


def make_pruner(spec: Spec) -> optuna.pruners.BasePruner:
    """The pruner named by ``search.pruner.name``.

    ``patient`` waits until the objective has not improved for ``patience`` epochs, then asks the
    pruner named by ``wraps``.
    """
    return PRUNERS[spec.search.pruner.name](spec.search.pruner, spec)
