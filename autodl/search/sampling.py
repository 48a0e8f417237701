"""Sampling one configuration from a trial: the active searched parameters (conditions decide
which), fixed ones as given, inactive ones at their default; and each trial's training seed.

What is active depends on the data too (its kind and task): the search passes the facts it
knows, and a condition on a fact not known (``autodl sample`` reads no data) holds."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from autodl.outcome import Config
from autodl.search.samplers import make_sampler
from autodl.search.study import quiet_optuna
from autodl.spec import Spec, params, space


@dataclass(frozen=True)
class Sample:
    """One sampled configuration: every field by section (to build with), and the active
    hyperparameters by dotted name (to log)."""

    config: Config
    params: dict[str, Any]


def sample_config(spec: Spec, trial: optuna.trial.BaseTrial, facts: params.Facts | None = None) -> Sample:
    """Sample the active searched parameters; fixed ones as given, inactive ones at their default.

    ``facts`` are what the data tells (``data.kind``, ``data.task``); the spec's own are added.
    """
    return configured(spec, lambda param: space.suggest(trial, param.name, param.value), facts)


def default_config(spec: Spec, facts: params.Facts | None = None) -> Sample:
    """The configuration with every active searched parameter at its default (``params.default_of``)."""
    return configured(spec, params.default_of, facts)


def configured(spec: Spec, choose: Callable[[params.Param], Any], facts: params.Facts | None) -> Sample:
    """The configuration with each active searched parameter's value from ``choose``."""
    config: Config = {name: {} for name in spec.sections()}
    config["model"]["family"] = spec.model.family
    config["training"]["class_weight"] = spec.training.class_weight  # not searched, trained with
    known = {**spec.facts(), **(facts or {})}
    values: dict[str, Any] = {}
    active: set[str] = set()
    for param in spec.parameters():
        if params.applies(param, values, active, known):
            active.add(param.name)
            value = choose(param) if param.searched else param.value
        else:
            value = param.default
        values[param.name] = value
        section, field_name = param.name.split(".", 1)
        config[section][field_name] = value
    return Sample(config, {name: values[name] for name in values if name in active})


def preview(spec: Spec, n: int) -> list[Sample]:
    """The first ``n`` configurations the spec's sampler gives, without training anything.

    With ``strategy: random`` (and ``auto``, up to its first TPE trial) these are exactly trials
    0..n-1 of a real search.
    """
    quiet_optuna()
    study = optuna.create_study(sampler=make_sampler(spec))
    samples = []
    for _ in range(n):
        trial = study.ask()
        samples.append(sample_config(spec, trial))
        study.tell(trial, state=TrialState.FAIL)
    return samples


def trial_seed(seed: int, number: int) -> int:
    """The seed trial ``number`` trains with, derived from the spec's seed."""
    return zlib.crc32(f"{seed}:{number}".encode()) % (2**31)
