"""What a stored study holds, gathered for ``autodl report`` and the end-of-search plots.

Trial counts, the best trials, each coarse-to-fine stage's space, parameter importances and the
best model's diagnosis, read from the Optuna storage and ``best.json`` only: no TensorFlow, no
MLflow, so a report on a finished search takes a second or two.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from autodl.errors import AutodlError
from autodl.results.diagnosis import Diagnosis, is_current
from autodl.results.record import INFO_FILE, BestRecord, best_dir, read_record
from autodl.runtime.stores import default_storage, mask_url, study_storage
from autodl.search import stages
from autodl.search.study import best_trial, complete_value, count_states, load_stored_study
from autodl.spec import Spec, load_spec, space
from autodl.spec.space import INV_LOG_PREFIX

MIN_IMPORTANCE_TRIALS = 5


def display_name(name: str) -> str:
    """The hyperparameter behind an Optuna parameter name: ``1-optimizer.beta_1`` (sampled as
    ``1 - beta`` on a log scale) is ``optimizer.beta_1``."""
    return name.removeprefix(INV_LOG_PREFIX)


def _merge(a: BaseDistribution, b: BaseDistribution) -> BaseDistribution:
    """One distribution covering both; coarse-to-fine stages narrow ranges, choices stay whole."""
    if isinstance(a, FloatDistribution) and isinstance(b, FloatDistribution) and type(a) is type(b):
        return type(a)(low=min(a.low, b.low), high=max(a.high, b.high), log=a.log, step=a.step)
    if isinstance(a, IntDistribution) and isinstance(b, IntDistribution) and type(a) is type(b):
        return type(a)(low=min(a.low, b.low), high=max(a.high, b.high), log=a.log, step=a.step)
    return a


def widened(trials: list[FrozenTrial]) -> dict[str, BaseDistribution]:
    """Each Optuna parameter of ``trials`` with a distribution that covers every trial's range,
    in the order the parameters were first sampled."""
    merged: dict[str, BaseDistribution] = {}
    for trial in trials:
        for name, dist in trial.distributions.items():
            merged[name] = _merge(merged[name], dist) if name in merged else dist
    return merged


def searched_names(study: optuna.Study) -> list[str]:
    """The searched hyperparameters (dotted names, as in each trial's ``params`` attribute)."""
    return list(dict.fromkeys(display_name(n) for n in widened(study.get_trials(deepcopy=False))))


@dataclass(frozen=True)
class Importances:
    """fANOVA importance of each searched hyperparameter (shares adding up to 1, largest first),
    or why it could not be computed."""

    values: dict[str, float]
    skipped: str | None = None


def importances(study: optuna.Study) -> Importances:
    """Parameter importances over the complete trials (infeasible ones included: their objective
    is real).

    Optuna drops a parameter whose range differs between trials, so each parameter is given one
    range covering every coarse-to-fine stage first. fANOVA with a fixed seed is used rather than
    Optuna 5's default PED-ANOVA, which needs many trials to say anything; fewer than
    ``MIN_IMPORTANCE_TRIALS`` complete trials are too few for either.
    """
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < MIN_IMPORTANCE_TRIALS:
        return Importances({}, f"parameter importances need at least {MIN_IMPORTANCE_TRIALS} "
                               f"complete trials, but the study has {len(complete)}")
    if len({t.value for t in complete}) == 1:
        return Importances({}, "every complete trial has the same objective value")
    dists = widened(complete)
    varying = [
        name for name in dists
        if all(name in t.params for t in complete) and len({repr(t.params[name]) for t in complete}) > 1
    ]
    if not varying:
        return Importances({}, "no searched hyperparameter varies across the complete trials")
    rebuilt = optuna.create_study(direction=study.direction)
    rebuilt.add_trials([
        optuna.trial.create_trial(
            params={n: t.params[n] for n in varying}, distributions={n: dists[n] for n in varying},
            value=t.value,
        )
        for t in complete
    ])
    found = optuna.importance.get_param_importances(
        rebuilt, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
    )
    ranked = sorted(found.items(), key=lambda item: -item[1])
    return Importances({display_name(name): float(value) for name, value in ranked})


def _as_space(name: str, dist: BaseDistribution, values: dict[Any, Any]) -> space.Distribution:
    """An Optuna distribution as the spec would write it; ``values`` maps recorded choices (values
    or indices) to the values the trials used."""
    if isinstance(dist, FloatDistribution) and name.startswith(INV_LOG_PREFIX):
        return space.FloatRange(1.0 - dist.high, 1.0 - dist.low, "inv_log")
    if isinstance(dist, FloatDistribution):
        return space.FloatRange(dist.low, dist.high, "log" if dist.log else "linear", dist.step)
    if isinstance(dist, IntDistribution):
        return space.IntRange(dist.low, dist.high, dist.step, dist.log)
    if isinstance(dist, CategoricalDistribution):
        return space.Choice(tuple(values.get(c, c) for c in dist.choices))
    raise AutodlError(f"Parameter {name!r} has a distribution autodl does not know: {dist!r}.")


def _space_of(trials: list[FrozenTrial]) -> dict[str, space.Distribution]:
    """The space ``trials`` were sampled from, read from their own distributions."""
    found = {}
    for name, dist in widened(trials).items():
        shown = display_name(name)
        used = {t.params[name]: t.user_attrs.get("params", {}).get(shown, t.params[name])
                for t in trials if name in t.params}
        found[shown] = _as_space(name, dist, used)
    return found


def stage_distributions(study: optuna.Study, spec: Spec | None) -> dict[int, dict[str, space.Distribution]]:
    """Each coarse-to-fine stage's space so far, stage 1 being the whole space: the spec's, or
    without it the one the stage-1 trials were sampled from. Empty for other strategies."""
    if spec is not None:
        if spec.search.strategy != "coarse_to_fine":
            return {}
        return stages.stage_distributions(study, spec.searched())
    first = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("stage") == 1]
    return stages.stage_distributions(study, _space_of(first)) if first else {}


@dataclass(frozen=True)
class TrialRow:
    """One of the best trials: its number, objective, state, epochs and hyperparameters."""

    number: int
    value: float
    state: str
    epochs: int | None
    params: dict[str, Any]


def top_trials(study: optuna.Study, k: int) -> list[TrialRow]:
    """The ``k`` best complete trials: feasible ones first, each group best first."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    ranked = sorted(complete, key=lambda t: (t.user_attrs.get("state") == "infeasible", sign * complete_value(t)))
    return [
        TrialRow(t.number, float(complete_value(t)), str(t.user_attrs.get("state", "complete")),
                 t.user_attrs.get("epochs"), dict(t.user_attrs.get("params", {})))
        for t in ranked[:k]
    ]


@dataclass(frozen=True)
class StudyReport:
    """Everything ``autodl report`` shows about one study."""

    study: optuna.Study
    name: str
    storage: str
    metric: str
    counts: dict[str, int]
    running: int
    best: int | None
    top: list[TrialRow]
    searched: list[str]
    stages: dict[int, dict[str, space.Distribution]]
    importances: Importances
    record_path: Path
    record: BestRecord | None
    diagnosis: Diagnosis | None

    @property
    def direction(self) -> str:
        """``maximize`` or ``minimize``."""
        return self.study.direction.name.lower()


def gather(
    study: optuna.Study, storage: str, spec: Spec | None, folder: Path, top: int
) -> StudyReport:
    """The report of ``study`` (stored in ``storage``) with the best model in ``folder``; ``spec``,
    when given, names the objective and the whole space, else ``best.json`` names the objective."""
    record = read_record(folder)
    if spec is not None:
        metric = spec.search.objective.metric
    elif record is not None:
        metric = str(record["objective"]["metric"])
    else:
        metric = "objective"
    best = best_trial(study)
    stored = record.get("diagnosis") if record is not None else None
    return StudyReport(
        study=study,
        name=study.study_name,
        storage=mask_url(storage),
        metric=metric,
        counts=count_states(study),
        running=len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))),
        best=best.number if best is not None else None,
        top=top_trials(study, top),
        searched=searched_names(study),
        stages=stage_distributions(study, spec),
        importances=importances(study),
        record_path=folder / INFO_FILE,
        record=record,
        diagnosis=Diagnosis.from_record(stored) if is_current(stored) else None,
    )


def load_report(spec_path: Path | None, study_name: str | None, storage: str | None, top: int) -> StudyReport:
    """The report of the study a spec searched (its name, storage and best-model folder), or of
    the study ``study_name`` in ``storage`` (default ``sqlite:///mlruns/optuna.db``) with its best
    model, if any, in ``best_model/<name>``. ``storage`` overrides the spec's."""
    if (spec_path is None) == (study_name is None):
        raise AutodlError(
            "Say which study to report on: give either the SPEC it was searched with or --study "
            "NAME (with --storage URL unless it is in sqlite:///mlruns/optuna.db), not both."
        )
    spec: Spec | None = None
    if spec_path is not None:
        spec = load_spec(spec_path)
        name, folder = spec.name, best_dir(spec)
        storage = storage or study_storage(spec)
    else:
        name = str(study_name)
        folder = Path("best_model") / name
        storage = storage or default_storage(None)
    return gather(load_stored_study(name, storage), storage, spec, folder, top)
