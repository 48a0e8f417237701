"""Warm starts: configurations queued to run first, from the spec (``search.enqueue``) or from the
best trials of an earlier study (``autodl search --warm-start STUDY``).

A queued configuration may be partial: the hyperparameters it leaves out are sampled as usual.
Values are given as a user writes them (``optimizer.learning_rate: 0.003``) and turned into what
Optuna records (``space.recorded``). Queued trials are ordinary trials of the study, so every
sampler (TPE, coarse-to-fine's stages) learns from them once they finish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from autodl.errors import StorageError
from autodl.runtime.log import logger
from autodl.runtime.stores import mask_url, storage_errors
from autodl.search.sampling import default_config
from autodl.search.study import make_storage, stored_study_names
from autodl.spec import params, space
from autodl.spec.document import Spec

SOURCE_ATTR = "enqueued_from"
"""The trial user attribute naming where a queued configuration came from."""
WARM_TOP = 5
"""How many of an earlier study's best trials a warm start queues."""


@dataclass
class Fitted:
    """A configuration cut to a space: the values it keeps, and what was left out and why."""

    kept: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def fit_space(spec: Spec, config: dict[str, Any]) -> Fitted:
    """The values of ``config`` that are searched hyperparameters of ``spec`` and that their
    distributions can take. A value equal to this spec's fixed one is dropped silently; the
    others left out are reported (fixed otherwise, not in this spec, or outside its range)."""
    known = {param.name: param.value for param in spec.parameters()}
    fitted = Fitted()
    for name, value in config.items():
        if name not in known:
            fitted.skipped.append(f"{name}={value!r} (not in this spec)")
        elif not isinstance(known[name], space.DISTRIBUTION_TYPES):
            if known[name] != value:
                fitted.skipped.append(f"{name}={value!r} (fixed at {known[name]!r} here)")
        elif not params.possible(known[name], value):
            fitted.skipped.append(f"{name}={value!r} (outside {space.describe(known[name])})")
        else:
            fitted.kept[name] = value
    return fitted


def recorded(spec: Spec, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (values fitting the space) as the parameters Optuna records; a custom
    hypermodel's own parameters (not in the spec) as they are."""
    searched = spec.searched()
    found: dict[str, Any] = {}
    for name, value in config.items():
        found.update(space.recorded(name, searched[name], value) if name in searched else {name: value})
    return found


def defaults(spec: Spec, facts: params.Facts | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The default configuration, as a user writes it and as Optuna records it: the spec's searched
    parameters that apply at their defaults, or a custom hypermodel's hp calls at their
    ``default=`` values (its module imported and ``build(hp)`` called)."""
    if spec.model.family == "custom":
        from autodl.models import custom

        hp = custom.defaults(custom.load_hypermodel(spec.model.build, spec.base_dir))
        return {f"model.{k}": v for k, v in hp.values.items()}, hp.recorded()
    searched = spec.searched()
    written = {k: v for k, v in default_config(spec, facts).params.items() if k in searched}
    return written, recorded(spec, written)


def enqueue(study: optuna.Study, spec: Spec, configs: list[dict[str, Any]], source: str) -> int:
    """Queue ``configs`` (Optuna's recorded parameters, see ``recorded``) to run first, as many as
    ``search.trials`` leaves room for; one the study already holds, queued or tried, is not queued
    again (a resumed search). Returns how many were queued."""
    waiting = (TrialState.WAITING,)
    before = len(study.get_trials(deepcopy=False, states=waiting))
    room = spec.search.trials - len(study.get_trials(deepcopy=False))
    for config in configs:
        if len(study.get_trials(deepcopy=False, states=waiting)) - before >= room:
            break
        study.enqueue_trial(config, user_attrs={SOURCE_ATTR: source}, skip_if_exists=True)
    queued = len(study.get_trials(deepcopy=False, states=waiting)) - before
    if queued:
        logger.info("queued %d configuration%s from %s to run first", queued, "s" * (queued != 1), source)
    return queued


def earlier_best(spec: Spec, study_name: str, storage_url: str, top: int = WARM_TOP) -> list[dict[str, Any]]:
    """The hyperparameters of the ``top`` best complete trials of an earlier study that fit this
    spec's space, each cut to the space; what does not fit is reported once per trial."""
    with storage_errors(storage_url):
        names = stored_study_names(storage_url) or []
        if study_name not in names:
            held = ", ".join(names) if names else "no studies"
            raise StorageError(f"--warm-start: no study {study_name!r} in {mask_url(storage_url)} (it holds "
                               f"{held}); name one of them, or give its storage with --warm-storage.")
        earlier = optuna.load_study(study_name=study_name, storage=make_storage(storage_url, create=False))
        complete = [t for t in earlier.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    if t.value is not None and "params" in t.user_attrs]
    reverse = earlier.direction == optuna.study.StudyDirection.MAXIMIZE
    complete.sort(key=lambda t: float(t.value or 0.0), reverse=reverse)
    configs: list[dict[str, Any]] = []
    for trial in complete[:top]:
        fitted = fit_space(spec, dict(trial.user_attrs["params"]))
        if fitted.skipped:
            logger.warning("warm start: trial %d of %s: skipped %s", trial.number, study_name,
                           "; ".join(fitted.skipped))
        if fitted.kept:
            configs.append(fitted.kept)
    return configs
