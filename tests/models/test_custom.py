"""The custom family: a KerasTuner-style build(hp) answered from autodl's own Optuna trial."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from autodl.errors import SpecError, TrialFailed
from autodl.models.custom import TrialHyperParameters, load_builder
from autodl.spec import space
from tests.helpers import write_module


def hp_for(trial: optuna.Trial) -> TrialHyperParameters:
    return TrialHyperParameters(lambda name, dist: space.suggest(trial, name, dist))


def test_hp_calls_become_trial_parameters() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    hp = hp_for(trial)
    units = hp.Int("units", 32, 128, step=32)
    rate = hp.Float("lr", 1e-4, 1e-2, sampling="log")
    beta = hp.Float("beta", 0.9, 0.999, sampling="reverse_log")
    act = hp.Choice("activation", ["relu", "tanh"])
    drop = hp.Boolean("dropout")
    fixed = hp.Fixed("classes", 10)
    with hp.conditional_scope("activation", ["relu"]):
        depth = hp.Int("depth", 1, 3, sampling="log")
    assert units in (32, 64, 96, 128) and 1e-4 <= rate <= 1e-2 and 0.9 <= beta <= 0.999
    assert act in ("relu", "tanh") and drop in (False, True) and fixed == 10 and 1 <= depth <= 3
    assert hp.values == {"units": units, "lr": rate, "beta": beta, "activation": act,
                         "dropout": drop, "classes": 10, "depth": depth}
    assert hp.get("units") == hp["units"] == units and "lr" in hp
    assert trial.params["model.units"] == units and trial.params["1-model.beta"] == pytest.approx(1 - beta)
    assert set(trial.params) == {"model.units", "model.lr", "1-model.beta", "model.activation",
                                 "model.dropout", "model.depth"}
    assert hp.Int("units", 32, 128, step=32) == units, "asking again gives the same value"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda hp: hp.Int("n", 1, 8, sampling="reverse_log"),
         "hp.Int('n'): sampling='reverse_log' is not supported; use linear or log"),
        (lambda hp: hp.Float("x", 0.1, 2.0, sampling="reverse_log"),
         "hp.Float('x'): reverse_log samples 1 - x on a log scale and needs 0 <= min_value <= "
         "max_value < 1, but got [0.1, 2.0]"),
        (lambda hp: hp.Float("x", 0.1, 2.0, sampling="cubic"), "hp.Float('x'): unknown sampling='cubic'"),
    ],
)
def test_unsupported_hp_calls_fail_the_trial(call: Callable, message: str) -> None:
    hp = hp_for(optuna.create_study().ask())
    with pytest.raises(TrialFailed) as caught:
        call(hp)
    assert str(caught.value) == message


def test_load_builder_takes_functions_classes_and_instances(tmp_path: Path) -> None:
    write_module(tmp_path, "builders_a", """
        def build(hp):
            return "from function"

        class Model:
            def build(self, hp):
                return "from class"

        instance = Model()
        not_callable = 3
    """)
    assert load_builder("builders_a:build", tmp_path)(None) == "from function"
    assert load_builder("builders_a:Model", tmp_path)(None) == "from class"
    assert load_builder("builders_a:instance", tmp_path)(None) == "from class"
    with pytest.raises(SpecError) as caught:
        load_builder("builders_a:not_callable", tmp_path)
    assert str(caught.value) == (
        "model.build: builders_a:not_callable is neither a build(hp) function nor a HyperModel. "
        "Received: model.build='builders_a:not_callable'"
    )
    with pytest.raises(SpecError) as caught:
        load_builder("builders_a:missing", tmp_path)
    assert str(caught.value) == "model.build: builders_a has no 'missing'. Received: model.build='builders_a:missing'"


def test_missing_module_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_builder("no_such_module_xyz:build", tmp_path)
    assert str(caught.value) == (
        "model.build: cannot import 'no_such_module_xyz' (No module named 'no_such_module_xyz'). "
        "Put no_such_module_xyz.py beside the spec file or install it. "
        "Received: model.build='no_such_module_xyz:build'"
    )
