"""Pruners by ``search.pruner.name``, and why a pruner stopped a trial. Steps are 1-based epochs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from autodl.spec import Spec
from autodl.spec.names import PRUNERS as PRUNER_NAMES
from autodl.spec.sections import PrunerSpec

PrunerFactory = Callable[[PrunerSpec, Spec], optuna.pruners.BasePruner]
HALVING_REDUCTION = 4
"""Successive halving keeps the best 1/4 of the trials at each rung (Optuna's default)."""
HYPERBAND_REDUCTION = 3
"""Hyperband's brackets keep the best 1/3 at each rung (Optuna's default)."""


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
        min_resource=max(1, p.warmup_epochs), reduction_factor=HALVING_REDUCTION
    ),
    "hyperband": lambda p, s: optuna.pruners.HyperbandPruner(
        min_resource=max(1, p.warmup_epochs), max_resource=_max_epochs(s),
        reduction_factor=HYPERBAND_REDUCTION,
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


def why_pruned(spec: Spec, study: optuna.Study, trial: FrozenTrial, epoch: int) -> str:
    """Why the study's pruner stopped ``trial`` after ``epoch``, read as the pruner decided: the
    trial's value against the threshold it missed (``dev_accuracy 0.41 at epoch 3; its best so far,
    0.41, is below the median of the 5 complete trials at epoch 3, 0.82``)."""
    metric = spec.search.objective.metric
    setting = spec.search.pruner
    head = f"{metric} {trial.intermediate_values[epoch]:.4g} at epoch {epoch}"
    if setting.name == "patient":
        missed = _missed(setting.wraps, spec, study, trial, epoch)
        return f"{head}; {_no_gain(trial, study.direction, setting)}, and {missed}"
    return f"{head}; {_missed(setting.name, spec, study, trial, epoch)}"


def _missed(name: str, spec: Spec, study: optuna.Study, trial: FrozenTrial, epoch: int) -> str:
    """The threshold pruner ``name`` holds ``trial`` against at ``epoch``."""
    maximize = study.direction == StudyDirection.MAXIMIZE
    if name in ("median", "percentile"):
        return _below_percentile(name, spec.search.pruner.percentile, study, trial, epoch, maximize)
    if name in ("successive_halving", "hyperband"):
        return _below_rung(name, study, trial, maximize)
    return f"the {name} pruner stopped it"


def _below_percentile(name: str, percentile: float, study: optuna.Study, trial: FrozenTrial, epoch: int,
                      maximize: bool) -> str:
    """Median and percentile pruners compare the trial's best value so far with a percentile of
    the complete trials' values at the same epoch."""
    values = [t.intermediate_values[epoch] for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if epoch in t.intermediate_values]
    if name == "median":
        percentile = 50.0
    at = 100 - percentile if maximize else percentile
    cut = float(np.nanpercentile(np.array(values, dtype=float), at)) if values else float("nan")
    seen = list(trial.intermediate_values.values())
    best = float(np.nanmax(seen) if maximize else np.nanmin(seen))
    label = "the median" if name == "median" else f"the {at:g}th percentile (the pruner keeps the best {percentile:g}%)"
    side = "below" if maximize else "above"
    return (f"its best so far, {best:.4g}, is {side} {label} of the {len(values)} complete trials at epoch "
            f"{epoch}, {cut:.4g}")


def _below_rung(name: str, study: optuna.Study, trial: FrozenTrial, maximize: bool) -> str:
    """Successive halving (and each bracket of Hyperband) promotes only the best 1/reduction of
    the trials that reached a rung; the cut is the value the trial had to reach."""
    pruner: optuna.pruners.BasePruner | None = study.pruner
    trials = study.get_trials(deepcopy=False)
    reduction = HALVING_REDUCTION
    where = ""
    if isinstance(pruner, optuna.pruners.PatientPruner):
        pruner = pruner._wrapped_pruner  # Optuna names the wrapped pruner only privately
    if isinstance(pruner, optuna.pruners.HyperbandPruner):
        # Optuna exposes no public way to a trial's bracket; these are the calls its prune makes
        bracket = pruner._get_bracket_id(study, trial)
        trials = pruner._create_bracket_study(study, bracket).get_trials(deepcopy=False)
        reduction, where = HYPERBAND_REDUCTION, f" of bracket {bracket}"
    rungs = sorted(int(k.rsplit("_", 1)[1]) for k in trial.system_attrs if k.startswith("completed_rung_"))
    if not rungs:
        return f"the {name} pruner stopped it"
    key = f"completed_rung_{rungs[-1]}"
    others = [t.system_attrs[key] for t in trials if key in t.system_attrs and t.number != trial.number]
    competing = sorted([*others, trial.system_attrs[key]])
    index = max(len(competing) // reduction - 1, 0)
    cut = competing[-(index + 1)] if maximize else competing[index]
    side = "below" if maximize else "above"
    return (f"it is {side} the cut {cut:.4g} that keeps the best 1/{reduction} of the {len(competing)} trials "
            f"at rung {rungs[-1]}{where} ({name.replace('_', ' ')})")


def _no_gain(trial: FrozenTrial, direction: StudyDirection, setting: PrunerSpec) -> str:
    """What the patient pruner saw first: no gain in its last ``patience + 1`` epochs."""
    steps = sorted(trial.intermediate_values)
    window = setting.patience + 1
    before = [trial.intermediate_values[s] for s in steps[:-window]]
    after = [trial.intermediate_values[s] for s in steps[-window:]]
    pick = np.nanmax if direction == StudyDirection.MAXIMIZE else np.nanmin
    margin = f" by more than {setting.min_delta:g}" if setting.min_delta else ""
    return (f"its best of the last {window} epochs, {float(pick(after)):.4g}, did not improve{margin} on "
            f"its best before them, {float(pick(before)):.4g}")
