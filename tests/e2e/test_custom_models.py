"""Custom KerasTuner-style hypermodels through the real CLI: failures with their reason, and the
shipped hypermodel unchanged."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autodl.cli import app
from tests.helpers import REPO, mlflow_store, write_module


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
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1].startswith("No trial completed: 1 failed with '")
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
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[-1].startswith("No trial completed: 1 failed with '")
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
    spec["search"]["enqueue"] = [{"model.dropout": True, "model.dropout_rate": 0.3}]
    (project / "digits_custom.yaml").write_text(yaml.safe_dump(spec))
    result = runner.invoke(app, ["search", str(project / "digits_custom.yaml"), "--trials", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "model.learning_rate" in result.output and "model.units_0" in result.output

    record = json.loads((project / "best_model" / "digits-custom" / "best.json").read_text())
    assert {"model.layers", "model.units_0", "model.dropout", "model.learning_rate", "model.batch_size",
            "model.shuffle"} <= set(record["hyperparameters"])
    assert "optimizer.learning_rate" not in record["hyperparameters"]
    assert ("model.dropout_rate" in record["hyperparameters"]) == record["hyperparameters"]["model.dropout"]

    import optuna

    trials = optuna.load_study(study_name="digits-custom", storage="sqlite:///mlruns/optuna.db").trials
    assert trials[0].user_attrs["enqueued_from"] == "the defaults"
    assert trials[0].params == {"model.layers": 1, "model.units_0": 32, "model.dropout": False,
                                "model.learning_rate": 1e-3, "model.batch_size": 32, "model.shuffle": True}
    assert trials[1].user_attrs["enqueued_from"] == "search.enqueue"
    assert trials[1].params["model.dropout"] is True and trials[1].params["model.dropout_rate"] == 0.3

    import mlflow

    mlflow.set_tracking_uri(mlflow_store())
    runs = mlflow.search_runs(experiment_names=["digits-custom"])
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert len(children) == 3
    assert children["params.model.learning_rate"].notna().all()
    assert children["params.model.batch_size"].isin(["16", "32", "64"]).all(), "fit()'s choices are logged"
    assert (children["params.model.dropout_rate"].notna() == (children["params.model.dropout"] == "True")).all()
    assert set(children["tags.state"]) <= {"complete", "pruned"}
    import keras

    model = keras.saving.load_model(project / "best_model" / "digits-custom" / "model.keras")
    assert model.output_shape == (None, 10)
