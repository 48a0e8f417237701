"""Saving the best model as the search finds it, with the record of its trial.

The folder holds ``model.keras`` (preprocessing included: normalization statistics, vocabulary)
and ``best.json`` (hyperparameters, metrics, label names), so a model can be used without autodl.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autodl.data.dataset import Dataset
from autodl.outcome import TrialOutcome
from autodl.spec import Spec

MODEL_FILE = "model.keras"
INFO_FILE = "best.json"
EXPORT_FOLDER = "export"


def export_dir(spec: Spec) -> Path:
    """Where the best model goes: ``export.dir`` or ``best_model/<name>``."""
    return Path(spec.export.dir) if spec.export.dir else Path("best_model") / spec.name


def best_record(spec: Spec, data: Dataset, trial: Any, metrics: dict[str, float]) -> dict[str, Any]:
    """The JSON-ready description of a best trial (``trial`` is an Optuna FrozenTrial)."""
    config = trial.user_attrs["config"]
    return {
        "name": spec.name,
        "trial": trial.number,
        "objective": {
            "metric": spec.search.objective.metric,
            "direction": spec.search.objective.resolved_direction,
            "value": trial.value,
        },
        "hyperparameters": trial.user_attrs["params"],
        "config": config,
        "seed": trial.user_attrs.get("seed"),
        "metrics": metrics,
        "epochs": trial.user_attrs.get("epochs"),
        "params_count": trial.user_attrs.get("params_count"),
        "task": data.task,
        "class_names": list(data.class_names),
        "data": {"source": data.name, "location": spec.data.source, "sizes": data.sizes()},
    }


def write_json(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")


DataFor = Callable[[dict[str, Any]], Dataset]


class BestModelSaver:
    """Called on each new best trial: replaces the saved model and its record atomically."""

    def __init__(self, spec: Spec, data_for: DataFor, directory: Path) -> None:
        self.spec = spec
        self.data_for = data_for
        self.directory = directory

    def __call__(self, trial: Any, outcome: TrialOutcome) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = self.directory / f".staging-{MODEL_FILE}"
        outcome.model.save(staging)
        os.replace(staging, self.directory / MODEL_FILE)
        data = self.data_for(trial.user_attrs["config"])
        record = best_record(self.spec, data, trial, outcome.metrics)
        record["history"] = outcome.history
        write_json(self.directory / INFO_FILE, record)
