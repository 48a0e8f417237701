"""The custom family: a KerasTuner-style build(hp) answered from autodl's own Optuna trial, and
errors in the user's module (at import, in build(hp)) as one message naming its file and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest
from typer.testing import CliRunner

from autodl import models
from autodl.cli import app
from autodl.errors import SpecError, TrialFailed
from autodl.models.custom import build, load_hypermodel
from autodl.models.hyperparameters import TrialHyperParameters
from autodl.outcome import TrialOutcome
from autodl.search.loop import optimize
from autodl.spec import space
from autodl.spec.document import load_spec
from tests.helpers import minimal_spec, new_study, write_module


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
    with hp.conditional_scope("activation", [act]):
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
        (lambda hp: hp.Float("x", 0.1, 0.5, step=0.1, sampling="reverse_log"),
         "hp.Float('x'): step=0.1 with sampling='reverse_log' is not supported; drop the step"),
        (lambda hp: hp.Int("n", 0, 8, step=2, sampling="log"),
         "hp.Int('n'): sampling='log' with step=2 needs min_value > 0 and step > 1 (the step multiplies), "
         "but got min_value=0"),
        (lambda hp: hp.Choice("c", [1, 2], default=3), "hp.Choice('c'): default=3 is not one of its values "
         "(choice [1, 2])"),
        (lambda hp: hp.Int("n", 1, 8, parent_name="kind", parent_values=["a"]),
         "hp.Int('n'): its parent 'kind' is not defined yet; call hp for 'kind' before the parameters "
         "that depend on it"),
        (lambda hp: hp.get("units"), "hp.get('units'): no parameter 'units' is defined (defined: none yet)"),
        (lambda hp: hp.Config, "hp.Config is a KerasTuner call autodl does not support; a hypermodel here "
         "may use hp.Int, hp.Float, hp.Choice, hp.Boolean, hp.Fixed, hp.get, hp.is_active, "
         "hp.conditional_scope, hp.values"),
        (lambda hp: hp.Float("x", 0.1, 2.0, sampling="reverse_log"),
         "hp.Float('x'): reverse_log samples 1 - x on a log scale and needs 0 <= min_value <= "
         "max_value < 1, but got [0.1, 2.0]"),
        (lambda hp: hp.Float("x", 0.1, 2.0, sampling="cubic"),
         "hp.Float('x'): unknown sampling='cubic'; use linear, log or reverse_log"),
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
    assert load_hypermodel("builders_a:build", tmp_path).build(None) == "from function"
    assert load_hypermodel("builders_a:Model", tmp_path).build(None) == "from class"
    assert load_hypermodel("builders_a:instance", tmp_path).build(None) == "from class"
    with pytest.raises(SpecError) as caught:
        load_hypermodel("builders_a:not_callable", tmp_path)
    assert str(caught.value) == (
        "model.build: builders_a:not_callable is neither a build(hp) function nor a HyperModel. "
        "Received: model.build='builders_a:not_callable'"
    )
    with pytest.raises(SpecError) as caught:
        load_hypermodel("builders_a:missing", tmp_path)
    assert str(caught.value) == "model.build: builders_a has no 'missing'. Received: model.build='builders_a:missing'"


def test_missing_module_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_hypermodel("no_such_module_xyz:build", tmp_path)
    assert str(caught.value) == (
        "model.build: cannot import 'no_such_module_xyz' (No module named 'no_such_module_xyz'). "
        "Put no_such_module_xyz.py beside the spec file or install it. "
        "Received: model.build='no_such_module_xyz:build'"
    )


@pytest.mark.parametrize(
    ("body", "error", "line"),
    [
        ("def build(hp)\n    return None\n", "SyntaxError: expected ':'", 1),
        ("import math\n\nRATE = math.pi / 0\n", "ZeroDivisionError: float division by zero", 3),
        ("def build(hp):\n    return None\n\nLAYERS = [Dense(4)]\n",
         "NameError: name 'Dense' is not defined", 4),
        ("import os\nimport no_such_package_xyz\n", "ModuleNotFoundError: No module named "
         "'no_such_package_xyz'", 2),
        ("def build(hp):\n  return 1\n    x = 2\n", "IndentationError: unexpected indent", 3),
        ("import sys\n\nsys.exit('bye')\n", "SystemExit: bye", 3),
    ],
    ids=["syntax", "zero-division", "name", "missing-import", "indentation", "sys-exit"],
)
def test_an_error_while_importing_the_module_is_one_spec_error(
    tmp_path: Path, body: str, error: str, line: int, request: pytest.FixtureRequest
) -> None:
    name = f"broken_{request.node.callspec.id.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(body)
    with pytest.raises(SpecError) as caught:
        load_hypermodel(f"{name}:build", tmp_path)
    assert str(caught.value) == (
        f"model.build: importing {name} raised {error} (at {tmp_path / name}.py, line {line}). Fix "
        f"the module, then run the search again. Received: model.build='{name}:build'"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


RAISING_BUILD = """
    def helper(units):
        return units / 0

    def build(hp):
        units = hp.Int("units", 4, 8)
        return helper(units)
"""


EXITING_BUILD = """
    import sys

    def build(hp):
        hp.Int("units", 4, 8)
        sys.exit(4)
"""


@pytest.mark.parametrize(("body", "error", "line"), [
    (RAISING_BUILD, ZeroDivisionError("division by zero"), 3),
    (EXITING_BUILD, SystemExit(4), 6),  # not an Exception: it would end the whole search
], ids=["zero-division", "sys-exit"])
def test_an_error_inside_build_fails_the_trial_naming_the_users_line(
    tmp_path: Path, body: str, error: BaseException, line: int, request: pytest.FixtureRequest
) -> None:
    name = f"raising_{request.node.callspec.id.replace('-', '_')}"
    write_module(tmp_path, name, body)
    user = load_hypermodel(f"{name}:build", tmp_path)
    with pytest.raises(TrialFailed) as caught:
        build(user, lambda name, dist: 4)
    assert str(caught.value) == (
        f"build(hp) raised {type(error).__name__}: {error} (at {tmp_path / name}.py, line {line})"
    )
    assert type(caught.value.__cause__) is type(error)


def test_a_hypermodel_class_whose_constructor_exits_is_one_spec_error(tmp_path: Path) -> None:
    write_module(tmp_path, "exiting_class", """
        import sys

        class Model:
            def __init__(self):
                sys.exit("needs arguments")

            def build(self, hp):
                return None
    """)
    with pytest.raises(SpecError) as caught:
        load_hypermodel("exiting_class:Model", tmp_path)
    assert str(caught.value).startswith("model.build: exiting_class:Model() raised SystemExit: needs arguments;")


def test_the_search_goes_on_past_failing_builds_with_their_reason(write_spec: Any, tmp_path: Path) -> None:
    write_module(tmp_path, "raising_in_search", RAISING_BUILD)
    spec = load_spec(write_spec(minimal_spec(
        model={"family": "custom", "build": "raising_in_search:build"},
        search={"trials": 3, "max_failed_trials": 5}, tracking={"enabled": False},
    )))
    make = models.builder(spec.model, spec.base_dir)

    def objective(config: dict, seed: int, should_prune: Any, listeners: Any, suggest: Any) -> TrialOutcome:
        make(config["model"], None, suggest)  # build(hp) raises before it needs the data
        raise AssertionError("build(hp) should have raised")

    study = new_study(spec, tmp_path)
    optimize(spec, study, objective, [], lambda trial, outcome: None)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 3
    assert {t.user_attrs["fail_reason"] for t in study.trials} == {
        f"TrialFailed: build(hp) raised ZeroDivisionError: division by zero "
        f"(at {tmp_path / 'raising_in_search.py'}, line 3)"
    }
    assert all("model.units" in t.params for t in study.trials)


def _broken_project(folder: Path) -> Path:
    write_module(folder, "broken_at_import", """
        import keras

        UNITS = 64 / 0
    """)
    spec = folder / "spec.yaml"
    spec.write_text(
        "name: broken-custom\ndata: {source: digits}\n"
        "model: {family: custom, build: 'broken_at_import:build'}\n"
        "training: {epochs: 1}\nsearch: {trials: 1}\ntracking: {enabled: false}\n"
    )
    return spec


def test_validate_does_not_import_the_module(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", str(_broken_project(project))])
    assert result.exit_code == 0, result.output
    assert "is valid: custom on digits" in result.output


@pytest.mark.slow
def test_search_stops_with_one_line_for_a_module_that_fails_to_import(project: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["search", str(_broken_project(project)), "--quiet"])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: model.build: importing broken_at_import raised ZeroDivisionError: division by zero "
        f"(at {project / 'broken_at_import.py'}, line 4). Fix the module, then run the search "
        "again. Received: model.build='broken_at_import:build'\n"
    )
    assert not (project / "best_model").exists()
