"""Warm starts: configurations queued first from the spec or an earlier study, cut to the space,
recorded the way Optuna records them, and queued once (no training)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from autodl.errors import SpecError, StorageError
from autodl.search import warm
from autodl.spec import space
from autodl.spec.document import load_spec
from tests.helpers import minimal_spec

SPACE = {
    "model": {"family": "mlp", "units": {"choice": [8, 32]}, "dropout": {"float": [0.0, 0.5]},
              "activation": {"choice": ["relu", "tanh"]}},
    "optimizer": {"learning_rate": {"float": [1e-4, 1e-1], "scale": "log"},
                  "beta_1": {"float": [0.8, 0.99], "scale": "inv_log"}},
}


def spec_of(write_spec: Any, name: str = "tiny", **changes: Any) -> Any:
    return load_spec(write_spec(minimal_spec(name=name, **{**SPACE, **changes}), f"{name}.yaml"))


def test_values_are_recorded_as_optuna_stores_them() -> None:
    assert space.recorded("optimizer.beta_1", space.FloatRange(0.8, 0.99, "inv_log"), 0.95) == {
        "1-optimizer.beta_1": pytest.approx(0.05)}
    assert space.recorded("model.units", space.Choice((8, 32)), 32) == {"model.units": 32}
    assert space.recorded("training.early_stopping", space.Choice((None, [1, 2])), [1, 2]) == {
        "training.early_stopping": 1}


def test_a_configuration_is_cut_to_the_space(write_spec: Any) -> None:
    spec = spec_of(write_spec)
    fitted = warm.fit_space(spec, {"model.units": 8, "model.dropout": 0.9, "model.layers": 2,
                                   "model.batch_norm": True, "optimizer.learning_rate": 0.01,
                                   "model.filters": 16})
    assert fitted.kept == {"model.units": 8, "optimizer.learning_rate": 0.01}
    assert fitted.skipped == ["model.dropout=0.9 (outside float [0, 0.5] linear)",
                              "model.batch_norm=True (fixed at False here)",
                              "model.filters=16 (not in this spec)"]


def test_queued_configurations_run_first_and_are_not_queued_twice(write_spec: Any) -> None:
    spec = spec_of(write_spec)
    study = optuna.create_study()
    configs = [warm.recorded(spec, c) for c in ({"model.units": 32, "optimizer.beta_1": 0.95}, {"model.units": 8})]
    assert configs[0] == {"model.units": 32, "1-optimizer.beta_1": pytest.approx(0.05)}
    assert warm.enqueue(study, spec, configs, "search.enqueue") == 2
    assert warm.enqueue(study, spec, configs, "search.enqueue") == 0
    assert warm.enqueue(study, spec, [{"model.units": 8, "model.dropout": 0.1}], "x") == 1
    cramped = spec_of(write_spec, name="cramped", search={"trials": 2})
    assert warm.enqueue(optuna.create_study(), cramped, configs * 2 + [{"model.dropout": 0.2}], "x") == 2
    first = study.ask()
    assert space.suggest(first, "model.units", space.Choice((8, 32))) == 32
    assert space.suggest(first, "optimizer.beta_1", space.FloatRange(0.8, 0.99, "inv_log")) == pytest.approx(0.95)
    assert first.user_attrs[warm.SOURCE_ATTR] == "search.enqueue"


def test_a_warm_start_takes_the_best_trials_of_an_earlier_study_that_fit(
    write_spec: Any, tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'earlier.db'}"
    earlier = optuna.create_study(study_name="earlier", storage=url, direction="maximize")
    for value, units, rate in [(0.5, 8, 0.01), (0.9, 32, 0.003), (0.7, 64, 0.02), (0.8, 8, 0.5)]:
        trial = earlier.ask()
        trial.set_user_attr("params", {"model.units": units, "optimizer.learning_rate": rate})
        earlier.tell(trial, value)
    spec = spec_of(write_spec)
    assert warm.earlier_best(spec, "earlier", url, top=3) == [
        {"model.units": 32, "optimizer.learning_rate": 0.003},
        {"model.units": 8},
        {"optimizer.learning_rate": 0.02},
    ]
    with pytest.raises(StorageError) as caught:
        warm.earlier_best(spec, "later", url)
    assert str(caught.value) == (f"--warm-start: no study 'later' in {url} (it holds earlier); name one "
                                 "of them, or give its storage with --warm-storage.")


def test_the_spec_checks_each_queued_configuration(write_spec: Any) -> None:
    with pytest.raises(SpecError) as caught:
        spec_of(write_spec, search={"enqueue": [{"model.unit": 8}, {"model.dropout": 0.9, "model.units": 32}]})
    assert str(caught.value).splitlines()[1:] == [
        "  search.enqueue[0]: model.unit is not a searched hyperparameter; did you mean 'model.units'? "
        "Received: search.enqueue[0].model.unit=8",
        "  search.enqueue[1]: model.dropout cannot be 0.9 (it is float [0, 0.5] linear). "
        "Received: search.enqueue[1].model.dropout=0.9",
    ]


def test_the_defaults_are_queued_as_optuna_records_them(write_spec: Any) -> None:
    spec = spec_of(write_spec, search={"enqueue_defaults": True})
    written, recorded = warm.defaults(spec)
    assert written == {"model.units": 8, "model.dropout": 0.0, "model.activation": "relu",
                       "optimizer.learning_rate": 0.003162, "optimizer.beta_1": 0.9}
    assert recorded == {"model.units": 8, "model.dropout": 0.0, "model.activation": "relu",
                        "optimizer.learning_rate": 0.003162, "1-optimizer.beta_1": pytest.approx(0.1)}
    study = optuna.create_study()
    assert warm.enqueue(study, spec, [recorded], "the defaults") == 1
    trial = study.ask()
    assert space.suggest(trial, "optimizer.beta_1", spec.searched()["optimizer.beta_1"]) == pytest.approx(0.9)
    assert trial.user_attrs[warm.SOURCE_ATTR] == "the defaults"
