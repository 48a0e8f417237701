"""Saving the best model as the search finds it, and measuring it once on the test split.

The folder holds ``model.keras`` (preprocessing included: normalization statistics, vocabulary)
and ``best.json`` (hyperparameters, metrics, label names), so a model can be used without autodl.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autodl.backend import load_keras
from autodl.data.dataset import Dataset
from autodl.log import logger
from autodl.outcome import TrialOutcome
from autodl.spec import Spec

MODEL_FILE = "model.keras"
INFO_FILE = "best.json"


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
        "data": {"source": data.name, "sizes": data.sizes()},
    }


def _write_json(path: Path, record: dict[str, Any]) -> None:
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
        _write_json(self.directory / INFO_FILE, best_record(self.spec, data, trial, outcome.metrics))


def finalize(spec: Spec, data_for: DataFor, directory: Path, best: Any) -> dict[str, Any]:
    """Measure the saved best model on the test split (once, at the end) and return its record.

    When the folder holds no model for ``best`` (it was removed after an earlier run), the record
    comes from the study and carries no test metrics.
    """
    data = data_for(best.user_attrs["config"])
    info_path = directory / INFO_FILE
    model_path = directory / MODEL_FILE
    saved = json.loads(info_path.read_text()) if info_path.is_file() else None
    if saved is None or saved.get("trial") != best.number or not model_path.is_file():
        logger.warning(
            "no saved model for best trial %d in %s; its record comes from the study",
            best.number, directory,
        )
        return best_record(spec, data, best, dict(best.user_attrs.get("metrics", {})))
    test = data.splits["test"]
    if len(test) > 0:
        model = load_keras().saving.load_model(model_path)
        batch = saved["config"]["training"]["batch_size"]
        scores = model.evaluate(test.x, test.y, batch_size=batch, verbose=0, return_dict=True)
        saved["metrics"].update({f"test_{k}": float(v) for k, v in scores.items()})
        _write_json(info_path, saved)
    return saved
