"""MLflow tracking: parent and nested runs, metric histories, resumed searches, logged files."""

from __future__ import annotations

from pathlib import Path

import pytest

from autodl.outcome import TrialOutcome
from autodl.results.diagnosis import diagnose
from autodl.results.uncertainty import ERROR_RATE, from_rate
from autodl.search.loop import SearchEnd, SearchStart
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
    tracker = MlflowTracker(uri)
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
    tracker.trial_finished(2, TrialOutcome("failed", reason="loss became nan at epoch 1"))
    best = {"trial": 0, "metrics": {"dev_accuracy": 0.8}, "hyperparameters": {"model.units": 32}}
    rates = {"train": 0.01, "train_dev": 0.09, "dev": 0.10}
    errors = {name: from_rate(name, error, 1000) for name, error in rates.items()}
    diagnosis = diagnose(ERROR_RATE, errors, human=0.0, origin="by_file")
    stages = {1: {"model.units": "int [8, 64]"}, 2: {"model.units": "int [16, 40]"}}
    tracker.search_ended(SearchEnd("FINISHED", {"complete": 1, "pruned": 1, "failed": 1}, stages, best,
                                   diagnosis.metrics(), diagnosis.verdict, diagnosis.report()))

    client = MlflowClient(mlflow_store())
    experiment = client.get_experiment_by_name("exp")
    assert Path(experiment.artifact_location.removeprefix("file://")) == (project / "mlruns" / "artifacts").resolve()
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"exp-search", "trial-0", "trial-1", "trial-2"}
    for name in ("trial-0", "trial-1", "trial-2"):
        assert runs[name].data.tags["mlflow.parentRunId"] == parent
    assert [runs[f"trial-{i}"].data.tags["state"] for i in range(3)] == ["complete", "pruned", "failed"]
    assert [runs[f"trial-{i}"].info.status for i in range(3)] == ["FINISHED", "FINISHED", "FAILED"]
    history = client.get_metric_history(runs["trial-0"].info.run_id, "dev_accuracy")
    assert [(m.step, round(m.value, 3)) for m in history] == [(1, 0.6), (2, 0.7), (3, 0.8), (3, 0.8)]
    assert runs["trial-0"].data.params == {"model.units": "32", "optimizer.name": "adam"}
    assert runs["trial-0"].data.tags["seed"] == "7"
    assert runs["trial-1"].data.metrics["pruned_epoch"] == 1
    assert runs["trial-2"].data.tags["fail_reason"] == "loss became nan at epoch 1"
    top = runs["exp-search"]
    assert top.info.status == "FINISHED"
    assert top.data.tags["storage"] == "postgresql://u:***@h/db"
    assert top.data.tags["best_trial"] == "0" and top.data.tags["best.model.units"] == "32"
    assert top.data.metrics["best_dev_accuracy"] == 0.8 and top.data.metrics["trials_pruned"] == 1
    assert {a.path for a in client.list_artifacts(parent)} == {
        "spec.yaml", "best_trial.json", "diagnosis.md", "stages.json"
    }
    assert runs["trial-0"].data.tags["stage"] == "2" and "stage" not in runs["trial-1"].data.tags
    assert top.data.tags["diagnosis"] == "variance"
    assert top.data.metrics["diagnosis.variance"] == pytest.approx(0.08)
    assert top.data.metrics["diagnosis.train_dev_error"] == pytest.approx(0.09)
    assert top.data.metrics["diagnosis.dev_n"] == 1000 and top.data.metrics["diagnosis.variance_se"] > 0
    trial_run = runs["trial-0"].info.run_id
    assert [a.path for a in client.list_artifacts(trial_run)] == ["model_summary.txt"]
    summary = Path(client.download_artifacts(trial_run, "model_summary.txt", str(project)))
    assert summary.read_text() == 'Model: "cnn"\n conv2d (Conv2D) 320'
    assert client.list_artifacts(runs["trial-2"].info.run_id) == []


def test_resumed_search_reopens_the_parent_run(project: Path) -> None:
    uri = "sqlite:///mlruns/mlflow.db"
    first = MlflowTracker(uri)
    parent = start(first, "exp", "name: exp\n")
    first.search_ended(SearchEnd("KILLED"))
    second = MlflowTracker(uri)
    assert start(second, "exp", "name: exp\n", resume=parent) == parent
    assert second.client.get_run(parent).info.status == "RUNNING"
    third = MlflowTracker(uri)
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
    tracker = MlflowTracker("sqlite:///mlruns/mlflow.db")
    parent = start(tracker, "exp", "name: exp\n")
    best = {"trial": 0, "metrics": {"dev_accuracy": 0.8}, "hyperparameters": {}}
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


def test_disabled_tracking_is_a_null_tracker() -> None:
    tracker = open_tracker(False, "http://127.0.0.1:9")
    assert isinstance(tracker, NullTracker)
    start(tracker, "x")
    tracker.trial_started(0, {}, 0, {})(1, {"loss": 1.0})
    tracker.trial_finished(0, TrialOutcome("complete", value=1.0))
    tracker.search_ended(SearchEnd("FINISHED"))
    assert tracker.parent_run_id is None
