"""The end of a search: measure the best model once on test, diagnose bias and variance, and
analyze its errors on dev. Everything lands beside the model and in ``best.json``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from optuna.trial import FrozenTrial

from autodl.data import DataFor, feed
from autodl.results import analysis
from autodl.results.diagnosis import Diagnosis, from_metrics
from autodl.results.record import BestRecord, record_of, saved_model, write_record
from autodl.runtime.backend import load_keras
from autodl.runtime.log import logger
from autodl.spec import Spec
from autodl.trial.measure import evaluate_split

ANALYSIS_DIR = "analysis"
DIAGNOSIS_FILE = "diagnosis.md"


def finalize(spec: Spec, data_for: DataFor, directory: Path, best: FrozenTrial) -> tuple[BestRecord, Diagnosis]:
    """The best trial's record with test metrics, its diagnosis, and its error analysis.

    When the folder holds no model for ``best`` (removed after an earlier run), the record and
    diagnosis come from the study, without test metrics or error analysis.
    """
    data = data_for(best.user_attrs["config"])
    found = saved_model(directory, best.number)
    if found is None:
        logger.warning(
            "no saved model for best trial %d in %s; its record comes from the study",
            best.number, directory,
        )
        record = record_of(spec, data, best, dict(best.user_attrs.get("metrics", {})))
        return record, diagnose(spec, record)
    saved, model_path = found
    model = load_keras().saving.load_model(model_path)
    batch = saved["config"]["training"]["batch_size"]
    test = evaluate_split(model, data.splits["test"], data.task, batch)
    saved["metrics"].update({f"test_{k}": v for k, v in test.items()})
    diagnosis = diagnose(spec, saved)
    (directory / DIAGNOSIS_FILE).write_text(diagnosis.report(), encoding="utf-8")
    outputs = model.predict(**feed.predict_inputs(data.splits["dev"], batch), verbose=0)
    result = analysis.write(directory / ANALYSIS_DIR, data, outputs, saved.get("history", {}),
                            spec.search.objective.metric)
    saved["diagnosis"] = {"verdict": diagnosis.verdict, **asdict(diagnosis),
                          "recommendations": diagnosis.recommendations()}
    if result is not None:
        saved["error_analysis"] = {
            "per_class_error": result.per_class_error,
            "most_confused": [list(pair) for pair in result.confused_pairs()],
        }
    write_record(directory, saved)
    return saved, diagnosis


def diagnose(spec: Spec, record: BestRecord) -> Diagnosis:
    """The diagnosis of a record's metrics, against the spec's human-level error and tolerance."""
    settings = spec.diagnostics
    return from_metrics(
        record["metrics"], record["task"], spec.search.objective.metric, settings.human_error,
        "human_error" in settings.model_fields_set, settings.tolerance,
    )
