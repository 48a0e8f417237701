"""Past sampling: a fake search (no training) on text data whose space holds
settings the data or the chosen optimizer ignores. Each trial's MLflow params, the end-of-search
terminal table, `autodl report`'s terminal table and its HTML page list only what was in effect."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import optuna
from rich.console import Console

from autodl.report.html import write_html
from autodl.report.study import gather
from autodl.report.terminal import print_study_report, print_summary
from autodl.results.summary import SearchSummary
from autodl.search.loop import SearchStart, optimize
from autodl.search.study import best_trial, open_study
from autodl.spec.document import load_spec
from autodl.tracking.runs import MlflowTracker
from tests.helpers import by_filters, curve_objective, minimal_spec, mlflow_store

FACTS = {"data.kind": "text", "data.task": "binary"}
NEVER = {"model.rotation", "model.zoom", "model.flip", "model.translation", "training.loss"}
"""Augmentation on text, and the regression loss for a classifier: given, but never in effect."""
SPACE = {
    "model": {"family": "cnn", "filters": {"choice": [16, 32, 64]}, "rotation": {"float": [0.0, 0.2]},
              "zoom": 0.1, "vocab_size": 500, "embedding_dim": {"choice": [8, 16]}},
    "optimizer": {"name": {"choice": ["adam", "sgd"]}, "momentum": {"float": [0.5, 0.9]},
                  "beta_1": {"float": [0.8, 0.95]}},
    "training": {"epochs": 2, "loss": "mae"},
}
IGNORED_BY = {"adam": "optimizer.momentum", "sgd": "optimizer.beta_1"}


def test_only_the_settings_in_effect_reach_mlflow_and_the_reports(
    project: Path, write_spec: Any,
) -> None:
    from mlflow.tracking import MlflowClient

    spec = load_spec(write_spec(minimal_spec(name="texts", **SPACE, tracking={"enabled": False},
                                             search={"trials": 10, "pruner": {"name": "none"}})))
    storage = f"sqlite:///{project / 'optuna.db'}"
    tracker = MlflowTracker("sqlite:///mlruns/mlflow.db", "dev_accuracy")
    tracker.search_started(SearchStart("texts", "", {}, total=10, done=0))
    result = optimize(spec, open_study(spec, storage), curve_objective(by_filters), [tracker],
                      lambda t, o: None, facts=FACTS)
    study = result.study
    names = {t.user_attrs["params"]["optimizer.name"] for t in study.trials}
    assert names == {"adam", "sgd"}, "the check needs trials of both optimizers"

    client = MlflowClient(mlflow_store())
    for trial in study.trials:
        run = client.get_run(trial.user_attrs["mlflow_run_id"])
        logged = set(run.data.params)
        assert logged == set(trial.user_attrs["params"])
        assert not NEVER & logged
        assert {"model.vocab_size", "model.embedding_dim", "optimizer.learning_rate"} <= logged
        assert run.data.params["model.vocab_size"] == "500"
        name = run.data.params["optimizer.name"]
        assert IGNORED_BY[name] not in logged and IGNORED_BY[{"adam": "sgd", "sgd": "adam"}[name]] in logged

    best = best_trial(study)
    record = {"trial": best.number, "objective": {"metric": "dev_accuracy", "value": best.value},
              "hyperparameters": best.user_attrs["params"], "metrics": {"dev_accuracy": best.value},
              "params_count": 1}
    console = Console(record=True, width=250, color_system=None)
    print_summary(SearchSummary(spec, None, result, record, None, project / "best", storage,  # type: ignore[arg-type]
                                None, None), console)
    summary = console.export_text()
    assert "model.filters" in summary and "optimizer.name" in summary
    assert not {name for name in NEVER | {IGNORED_BY[best.user_attrs["params"]["optimizer.name"]]}
                if name in summary}

    report = gather(optuna.load_study(study_name="texts", storage=storage), storage, spec, project / "best", 10)
    assert not NEVER & set(report.searched)
    assert {"optimizer.momentum", "optimizer.beta_1", "model.embedding_dim"} <= set(report.searched)
    console = Console(record=True, width=400, color_system=None)
    print_study_report(report, console)
    text = console.export_text()
    assert not {name for name in NEVER if name in text}

    page = write_html(report, project / "reports" / "texts.html").read_text()
    assert not {name for name in NEVER if name in page}
    top = re.search(r"<h2>Best trials</h2><table><tr>(.*?)</tr>(.*?)</table>", page)
    assert top is not None
    header = re.findall(r"<th>(.*?)</th>", top[1])
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", top[2])]
    assert len(rows) == len(report.top) >= 2
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        name = cells["optimizer.name"]
        assert cells[IGNORED_BY[name]] == "-", f"{name} ignores {IGNORED_BY[name]}"
        assert cells[IGNORED_BY[{"adam": "sgd", "sgd": "adam"}[name]]] != "-"
