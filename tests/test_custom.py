"""The custom family: a KerasTuner-style build(hp) answered from autodl's own Optuna trial."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from autodl.cli import app
from autodl.errors import SpecError, TrialFailed
from autodl.models.custom import TrialHyperParameters, load_builder
from autodl.spec import load_spec, space
from tests.conftest import REPO, minimal_spec, mlflow_store


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


def write_module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


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


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"family": "custom", "build": "my models:build"}, "  model.build: String should match pattern"),
        ({"family": "custom"}, "  model.build: missing required key."),
    ],
)
def test_custom_spec_fields(model: dict, message: str, write_spec: Callable[..., Path]) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(minimal_spec(model=model)))
    assert str(caught.value).splitlines()[1].startswith(message)


def test_custom_spec_takes_no_optimizer_section(write_spec: Callable[..., Path]) -> None:
    path = write_spec(minimal_spec(model={"family": "custom", "build": "m:build"}, optimizer={"name": "sgd"}))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert str(caught.value).splitlines()[1:] == [
        "  optimizer: a custom model is compiled by its build(hp), which chooses the optimizer; "
        "remove this section (search the optimizer with hp calls instead). "
        "Received: optimizer={'name': 'sgd'}"
    ]


MARKING_MODULE = """
    from pathlib import Path
    Path(__file__).with_name("imported.marker").write_text("yes")

    def build(hp):
        raise RuntimeError("never built in this test")
"""


def test_validate_and_sample_never_import_the_module(tmp_path: Path, runner: CliRunner) -> None:
    write_module(tmp_path, "marking_builder", MARKING_MODULE)
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: c\ndata: {source: digits}\nmodel: {family: custom, build: 'marking_builder:build'}\n")
    assert runner.invoke(app, ["validate", str(spec)]).exit_code == 0
    sampled = runner.invoke(app, ["sample", str(spec)])
    assert sampled.exit_code == 2 and "sample cannot preview them" in sampled.output.replace("\n", "")
    assert not (tmp_path / "imported.marker").exists()


def _custom_project(folder: Path, module: str, body: str, metric: str = "dev_accuracy") -> Path:
    write_module(folder, module, body)
    spec = folder / "spec.yaml"
    spec.write_text(textwrap.dedent(f"""
        name: custom-test
        data: {{source: digits}}
        model: {{family: custom, build: '{module}:build'}}
        training: {{epochs: 2, batch_size: 64}}
        search: {{trials: 2, pruner: {{name: none}}, objective: {{metric: {metric}}}}}
    """))
    return spec


@pytest.mark.slow
def test_a_hypermodel_without_the_objective_metric_fails_with_the_reason(project: Path, runner: CliRunner) -> None:
    spec = _custom_project(project, "models_without_metric", """
        import keras

        def build(hp):
            model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                      keras.layers.Dense(10, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model
    """)
    result = runner.invoke(app, ["search", str(spec), "--quiet", "--trials", "1"])
    assert result.exit_code == 0, result.output
    import optuna

    trial = optuna.load_study(study_name="custom-test", storage="sqlite:///mlruns/optuna.db").trials[0]
    assert trial.state == optuna.trial.TrialState.FAIL
    assert trial.user_attrs["fail_reason"] == (
        "the model reports no dev_accuracy (it logs dev_loss, loss); compile it with that metric "
        "or set search.objective.metric to one of those"
    )


@pytest.mark.slow
def test_an_uncompiled_hypermodel_fails_with_the_reason(project: Path, runner: CliRunner) -> None:
    spec = _custom_project(project, "models_uncompiled", """
        import keras

        def build(hp):
            return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    """)
    result = runner.invoke(app, ["search", str(spec), "--quiet", "--trials", "1"])
    assert result.exit_code == 0, result.output
    import optuna

    trial = optuna.load_study(study_name="custom-test", storage="sqlite:///mlruns/optuna.db").trials[0]
    assert trial.user_attrs["fail_reason"].startswith("TrialFailed: build(hp) returned a model that is not compiled")


@pytest.mark.slow
def test_the_shipped_kerastuner_hypermodel_runs_unchanged(project: Path, runner: CliRunner) -> None:
    import shutil

    import yaml

    for name in ("digits_custom.yaml", "digits_hypermodel.py"):
        shutil.copy(REPO / "search_spaces" / name, project / name)
    spec = yaml.safe_load((project / "digits_custom.yaml").read_text())
    spec["training"]["epochs"] = 3
    (project / "digits_custom.yaml").write_text(yaml.safe_dump(spec))
    result = runner.invoke(app, ["search", str(project / "digits_custom.yaml"), "--trials", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "model.learning_rate" in result.output and "model.units_0" in result.output

    record = json.loads((project / "best_model" / "digits-custom" / "best.json").read_text())
    assert {"model.layers", "model.units_0", "model.dropout", "model.learning_rate"} <= set(record["hyperparameters"])
    assert "optimizer.learning_rate" not in record["hyperparameters"]

    import mlflow

    mlflow.set_tracking_uri(mlflow_store())
    runs = mlflow.search_runs(experiment_names=["digits-custom"])
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert len(children) == 3
    assert children["params.model.learning_rate"].notna().all()
    assert set(children["tags.state"]) <= {"complete", "pruned"}
    import keras

    model = keras.saving.load_model(project / "best_model" / "digits-custom" / "model.keras")
    assert model.output_shape == (None, 10)
