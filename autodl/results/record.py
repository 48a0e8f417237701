"""The best-model folder and its record, ``best.json``: the one module that writes and reads it.

The folder (``export.dir`` or ``best_model/<name>``) holds ``model.keras`` (preprocessing
included: normalization statistics, vocabulary) and ``best.json`` (hyperparameters, metrics,
label names, and after the search's end its test scores, diagnosis and error analysis), so a
model can be used without autodl. ``export/`` and ``plots/`` are written there by later stages.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TypedDict

from optuna.trial import FrozenTrial

from autodl.data import DataFor, Dataset
from autodl.errors import AutodlError
from autodl.outcome import Config, TrialOutcome
from autodl.spec import Spec

MODEL_FILE = "model.keras"
INFO_FILE = "best.json"
EXPORT_FOLDER = "export"
"""The deployable export's folder inside the best-model folder (written by ``export``)."""


class BestRecord(TypedDict, total=False):
    """``best.json``: what a search knows of its best trial."""

    name: str
    trial: int
    objective: dict[str, Any]
    hyperparameters: dict[str, Any]
    config: Config
    seed: int | None
    metrics: dict[str, float]
    epochs: int | None
    params_count: int | None
    task: str
    class_names: list[str]
    data: dict[str, Any]
    history: dict[str, list[float]]
    diagnosis: dict[str, Any]
    baselines: dict[str, Any]
    learning_curve: dict[str, Any]
    error_analysis: dict[str, Any]


def best_dir(spec: Spec) -> Path:
    """Where the best model goes: ``export.dir`` or ``best_model/<name>``."""
    return Path(spec.export.dir) if spec.export.dir else Path("best_model") / spec.name


def data_record(spec: Spec, data: Dataset) -> dict[str, Any]:
    """What the record and the export manifest say of the data: source, location, split sizes."""
    return {"source": data.name, "location": spec.data.source, "sizes": data.sizes()}


def record_of(spec: Spec, data: Dataset, trial: FrozenTrial, metrics: dict[str, float]) -> BestRecord:
    """The record of a best trial, from what the study stored of it."""
    return {
        "name": spec.name,
        "trial": trial.number,
        "objective": {
            "metric": spec.search.objective.metric,
            "direction": spec.search.objective.resolved_direction,
            "value": trial.value,
        },
        "hyperparameters": trial.user_attrs["params"],
        "config": trial.user_attrs["config"],
        "seed": trial.user_attrs.get("seed"),
        "metrics": metrics,
        "epochs": trial.user_attrs.get("epochs"),
        "params_count": trial.user_attrs.get("params_count"),
        "task": data.task,
        "class_names": list(data.class_names),
        "data": data_record(spec, data),
    }


def write_json(path: Path, document: Any) -> None:
    """``document`` as indented JSON (values JSON does not know written as text)."""
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


def write_record(folder: Path, record: BestRecord) -> None:
    """Write ``best.json`` into ``folder``."""
    write_json(folder / INFO_FILE, record)


def read_record(folder: Path) -> BestRecord | None:
    """The ``best.json`` in ``folder``, or ``None`` when there is none."""
    path = folder / INFO_FILE
    if not path.is_file():
        return None
    try:
        found: BestRecord = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AutodlError(f"{path} is not valid JSON ({exc}); run the search again to rewrite it.") from None
    return found


def saved_model(folder: Path, trial: int) -> tuple[BestRecord, Path] | None:
    """The record and ``model.keras`` of trial ``trial`` when the folder holds that trial's model;
    ``None`` when it holds another trial's, or none."""
    record = read_record(folder)
    path = folder / MODEL_FILE
    if record is None or record.get("trial") != trial or not path.is_file():
        return None
    return record, path


class BestModelSaver:
    """Called on each new best trial: replaces the saved model and its record atomically."""

    def __init__(self, spec: Spec, data_for: DataFor, directory: Path) -> None:
        self.spec = spec
        self.data_for = data_for
        self.directory = directory

    def __call__(self, trial: FrozenTrial, outcome: TrialOutcome) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        staging = self.directory / f".staging-{MODEL_FILE}"
        outcome.model.save(staging)
        os.replace(staging, self.directory / MODEL_FILE)
        data = self.data_for(trial.user_attrs["config"])
        record = record_of(self.spec, data, trial, outcome.metrics)
        record["history"] = outcome.history
        write_record(self.directory, record)
