"""MLflow tracking: parent and nested runs, metric histories, resumed searches, logged files."""

from __future__ import annotations

from pathlib import Path

import pytest

from autodl.outcome import TrialOutcome
from autodl.results.diagnosis import diagnose
from autodl.results.uncertainty import ERROR_RATE, from_rate
from autodl.search.loop import SearchEnd, SearchStart
from autodl.spec.sections import TrackingSpec
from autodl.tracking.runs import MlflowTracker, NullTracker, open_tracker
from tests.helpers import mlflow_store


def start(tracker: MlflowTracker | NullTracker, name: str, text: str = "", tags: dict | None = None,
          resume: str | None = None) -> str | None:
    """Open the parent run as a search does; return its id."""
    tracker.search_started(SearchStart(name, text, tags or {}, total=1, done=0, resume_run_id=resume))
    return tracker.parent_run_id


def test_parent_and_nested_trial_runs(project: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri = "sqlite:///mlruns/mlflow.db"
    tracker = MlflowTracker(uri, "dev_accuracy")
    parent = start(tracker, "exp", "name: exp\n", {"storage": "postgresql://u:secret@h/db", "task": "binary"})
    on_epoch = tracker.trial_started(0, {"model.units": 32, "optimizer.name": "adam"}, seed=7, tags={"stage": "2"})
    for epoch, value in enumerate([0.6, 0.7, 0.8], start=1):
        on_epoch(epoch, {"dev_accuracy": value, "loss": 1 - value})
    tracker.trial_finished(0, TrialOutcome("complete", value=0.8, epochs=3, params_count=10,
                                           metrics={"train_accuracy": 0.9, "dev_accuracy": 0.8},
                                           summary="Model: \"cnn\"\n conv2d (Conv2D) 320"))
    tracker.trial_started(1, {"model.units": 8, "optimizer.name": "sgd"}, seed=8, tags={})(1, {"dev_accuracy": 0.1})
    tracker.trial_finished(1, TrialOutcome("pruned", value=0.1, epochs=1, pruned_epoch=1))
    tracker.trial_started(2, {"model.units": 4, "optimizer.name": "sgd"}, seed=9, tags={})
    assert tracker.trial_attributes(2) == {"mlflow_run_id": tracker._trial_runs[2]}
    tracker.trial_finished(2, TrialOutcome("failed", reason="loss became nan at epoch 1"))
    assert tracker.trial_attributes(2) == {}
    rates = {"train": 0.01, "train_dev": 0.09, "dev": 0.10}
    errors = {name: from_rate(name, error, 1000) for name, error in rates.items()}
    diagnosis = diagnose(ERROR_RATE, errors, human=0.0, origin="by_file")
    best = {"trial": 0, "objective": {"metric": "dev_accuracy", "direction": "maximize", "value": 0.8},
            "metrics": {"dev_accuracy": 0.8}, "hyperparameters": {"model.units": 32},
            "diagnosis": diagnosis.to_record()}
    stages = {1: {"model.units": "int [8, 64]"}, 2: {"model.units": "int [16, 40]"}}
    tracker.search_ended(SearchEnd("FINISHED", {"complete": 1, "pruned": 1, "failed": 1}, stages, best,
                                   diagnosis.metrics(), diagnosis.verdict, diagnosis.report()))

    client = MlflowClient(mlflow_store())
    experiment = client.get_experiment_by_name("exp")
    assert Path(experiment.artifact_location.removeprefix("file://")) == (project / "mlruns" / "artifacts").resolve()
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"exp-search", "trial-000", "trial-001", "trial-002"}
    for name in ("trial-000", "trial-001", "trial-002"):
        assert runs[name].data.tags["mlflow.parentRunId"] == parent
    assert [runs[f"trial-{i:03d}"].data.tags["state"] for i in range(3)] == ["complete", "pruned", "failed"]
    assert [runs[f"trial-{i:03d}"].info.status for i in range(3)] == ["FINISHED", "FINISHED", "FAILED"]
    history = client.get_metric_history(runs["trial-000"].info.run_id, "dev_accuracy")
    assert [(m.step, round(m.value, 3)) for m in history] == [(1, 0.6), (2, 0.7), (3, 0.8), (3, 0.8)]
    assert runs["trial-000"].data.params == {"model.units": "32", "optimizer.name": "adam"}
    assert runs["trial-000"].data.tags["seed"] == "7"
    assert runs["trial-001"].data.metrics["pruned_epoch"] == 1
    assert runs["trial-002"].data.tags["fail_reason"] == "loss became nan at epoch 1"
    notes = {name: run.data.tags["mlflow.note.content"] for name, run in runs.items()}
    assert notes["trial-000"].startswith("**complete** after 3 epochs: dev_accuracy = 0.8.")
    assert notes["trial-001"].startswith("**pruned**: no reason was recorded.")
    assert notes["trial-002"].startswith("**failed**: loss became nan at epoch 1. The search went on")
    assert "Optuna trial #2 of study `exp`" in notes["trial-002"]
    assert notes["exp-search"].startswith("**autodl search `exp`**: finished.\n\n**Best trial:** #0 (run "
                                          "`trial-000`), dev_accuracy = 0.8 (dev error 0.1 ± 0.019, 2 standard "
                                          "errors, on 1000 examples).")
    assert "**Verdict:** variance." in notes["exp-search"]
    assert "**Trials:** 1 complete, 1 pruned, 1 failed." in notes["exp-search"]
    top = runs["exp-search"]
    assert top.info.status == "FINISHED"
    assert top.data.tags["storage"] == "postgresql://u:***@h/db"
    assert top.data.tags["best_trial"] == "0" and top.data.tags["best.model.units"] == "32"
    assert top.data.metrics["best_dev_accuracy"] == 0.8 and top.data.metrics["trials_pruned"] == 1
    assert {a.path for a in client.list_artifacts(parent)} == {
        "spec.yaml", "best_trial.json", "diagnosis.md", "stages.json"
    }
    assert runs["trial-000"].data.tags["stage"] == "2" and "stage" not in runs["trial-001"].data.tags
    assert top.data.tags["diagnosis"] == "variance"
    assert top.data.metrics["diagnosis.variance"] == pytest.approx(0.08)
    assert top.data.metrics["diagnosis.train_dev_error"] == pytest.approx(0.09)
    assert top.data.metrics["diagnosis.dev_n"] == 1000 and top.data.metrics["diagnosis.variance_se"] > 0
    trial_run = runs["trial-000"].info.run_id
    assert [a.path for a in client.list_artifacts(trial_run)] == ["model_summary.txt"]
    summary = Path(client.download_artifacts(trial_run, "model_summary.txt", str(project)))
    assert summary.read_text() == 'Model: "cnn"\n conv2d (Conv2D) 320'
    assert client.list_artifacts(runs["trial-002"].info.run_id) == []


def test_resumed_search_reopens_the_parent_run(project: Path) -> None:
    uri = "sqlite:///mlruns/mlflow.db"
    first = MlflowTracker(uri, "dev_accuracy")
    parent = start(first, "exp", "name: exp\n")
    first.search_ended(SearchEnd("KILLED"))
    second = MlflowTracker(uri, "dev_accuracy")
    assert start(second, "exp", "name: exp\n", resume=parent) == parent
    assert second.client.get_run(parent).info.status == "RUNNING"
    third = MlflowTracker(uri, "dev_accuracy")
    assert start(third, "exp", "name: exp\n", resume="0123456789abcdef") != parent


def test_plots_are_logged_once_beside_the_best_model(project: Path) -> None:
    from mlflow.tracking import MlflowClient

    export = project / "best_model" / "exp"
    (export / "analysis").mkdir(parents=True)
    (export / "plots").mkdir()
    (export / "model.keras").write_bytes(b"model")
    (export / "analysis" / "analysis.md").write_text("# Error analysis on dev\n")
    (export / "plots" / "optimization_history.png").write_bytes(b"png")
    (export / ".lock").write_text("")
    tracker = MlflowTracker("sqlite:///mlruns/mlflow.db", "dev_accuracy")
    parent = start(tracker, "exp", "name: exp\n")
    best = {"trial": 0, "objective": {"metric": "dev_accuracy", "value": 0.8}, "metrics": {"dev_accuracy": 0.8},
            "hyperparameters": {}}
    tracker.search_ended(SearchEnd("FINISHED", {"complete": 1}, best=best, folder=export,
                                   plots=export / "plots"))

    client = MlflowClient(mlflow_store())

    def listed(path: str | None = None) -> set[str]:
        return {a.path for a in client.list_artifacts(parent, path)}

    assert listed() == {"spec.yaml", "best_trial.json", "best_model", "plots"}
    assert listed("best_model") == {"best_model/model.keras", "best_model/analysis"}
    assert listed("best_model/analysis") == {"best_model/analysis/analysis.md"}
    assert listed("plots") == {"plots/optimization_history.png"}
    assert client.get_run(parent).info.status == "FINISHED"
    assert ("**Where:** best model `best_model/exp/model.keras` with `best.json` and `diagnosis.md` (artifacts: "
            "`best_model/`); plots `best_model/exp/plots/` (artifacts: `plots/`).") in (
        client.get_run(parent).data.tags["mlflow.note.content"].replace(str(project) + "/", ""))


def test_disabled_tracking_is_a_null_tracker() -> None:
    tracker = open_tracker(TrackingSpec(enabled=False, uri="http://127.0.0.1:9"), "dev_accuracy")
    assert isinstance(tracker, NullTracker)
    start(tracker, "x")
    tracker.trial_started(0, {}, 0, {})(1, {"loss": 1.0})
    tracker.trial_finished(0, TrialOutcome("complete", value=1.0))
    tracker.search_ended(SearchEnd("FINISHED"))
    assert tracker.parent_run_id is None


def test_a_reused_experiment_is_tagged_as_model_training_and_runs_sort_by_trial(project: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_store())
    old = client.create_experiment("older")
    tracker = MlflowTracker("sqlite:///mlruns/mlflow.db", "dev_loss")
    tracker.search_started(SearchStart("older", "", {}, total=1500, done=0))
    assert tracker.experiment_id == old
    assert client.get_experiment(old).tags["mlflow.experimentKind"] == "custom_model_development"
    tracker.trial_started(7, {}, seed=1, tags={})
    tracker.trial_finished(7, TrialOutcome("infeasible", value=0.3, epochs=2, reason="breaks params 3200 > 2500"))
    run = client.search_runs([old], filter_string="tags.trial = '7'")[0]
    assert run.info.run_name == "trial-0007", "padded to the digits of the 1500-trial budget"
    assert run.data.tags["infeasible_reason"] == "breaks params 3200 > 2500"
    assert run.data.tags["mlflow.note.content"].startswith(
        "**infeasible**: it completed with dev_loss = 0.3, but it breaks params 3200 > 2500 "
        "(`search.constraints`), so it is never the best model.")
    assert client.get_run(tracker.parent_run_id).data.tags["mlflow.note.content"].startswith(
        "**autodl search `older`**: running; 0 of 1500 trials finished")
