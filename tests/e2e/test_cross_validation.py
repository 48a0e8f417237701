"""End to end: a search cross-validated on a real table under 500 rows (scikit-learn's wine data,
178 rows, 3 cultivars): each trial's value is the mean of its folds' held-out accuracy, the spread
is logged, and the saved model is the configuration refit on all of train.

Marked slow (it trains networks); CI runs it too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from autodl.cli import app
from tests.helpers import mlflow_store

pytestmark = pytest.mark.slow


def test_a_cross_validated_search_on_a_small_table(project: Path) -> None:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "label"})
    frame["label"] = frame["label"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    frame.to_csv(project / "wine.csv", index=False)
    spec = {"name": "wine-cv", "data": {"source": "wine.csv"},
            "model": {"family": "mlp", "layers": 1, "units": {"choice": [4, 32]}},
            "optimizer": {"name": "adam", "learning_rate": {"float": [1e-3, 3e-2], "scale": "log"}},
            "training": {"epochs": 8, "batch_size": 16},
            "search": {"trials": 3, "cv": {"folds": 3}, "pruner": {"name": "none"}},
            "diagnostics": {"baselines": False}, "export": {"formats": []}}
    (project / "wine.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    result = CliRunner().invoke(app, ["search", str(project / "wine.yaml"), "--quiet"])
    assert result.exit_code == 0, result.output

    import optuna

    trials = optuna.load_study(study_name="wine-cv", storage="sqlite:///mlruns/optuna.db").trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 3
    for trial in trials:
        metrics = trial.user_attrs["metrics"]
        folds = [metrics[f"cv_dev_accuracy_fold{i}"] for i in (1, 2, 3)]
        assert trial.value == pytest.approx(np.mean(folds)) == pytest.approx(metrics["cv_dev_accuracy"])
        assert metrics["cv_dev_accuracy_std"] == pytest.approx(np.std(folds, ddof=1))
        assert all(0.0 <= f <= 1.0 for f in folds)
    record = json.loads((project / "best_model" / "wine-cv" / "best.json").read_text())
    best = max(trials, key=lambda t: t.value)
    assert record["trial"] == best.number
    assert record["objective"] == {"metric": "dev_accuracy", "direction": "maximize", "value": best.value,
                                   "cv_folds": 3}
    sizes = record["data"]["sizes"]
    assert sizes["train"] + sizes["train_dev"] + sizes["dev"] + sizes["test"] == 178
    print(f"cv accuracy of the best trial {best.value:.3f} +- {record['metrics']['cv_dev_accuracy_std']:.3f} "
          f"over 3 folds of {sizes['train'] + sizes['train_dev']} rows; the refit's dev accuracy "
          f"{record['metrics']['dev_accuracy']:.3f} on {sizes['dev']} rows")

    import keras

    model = keras.saving.load_model(project / "best_model" / "wine-cv" / "model.keras")
    from autodl.data import load_dataset
    from autodl.spec import load_spec

    loaded = load_spec(project / "wine.yaml")
    data = load_dataset(loaded.data, loaded.base_dir, loaded.seed)
    dev = data.splits["dev"]
    accuracy = float(np.mean(np.argmax(model.predict(dev.x, verbose=0), axis=1) == dev.y))
    assert accuracy == pytest.approx(record["metrics"]["dev_accuracy"], abs=1e-6), "the saved model is the refit"

    import mlflow

    mlflow.set_tracking_uri(mlflow_store())
    runs = mlflow.search_runs(experiment_names=["wine-cv"])
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert len(children) == 3 and children["metrics.cv_dev_accuracy_std"].notna().all()
