"""The end of a search: measure the best model once on test, diagnose bias and variance, and
analyze its errors on dev. Everything lands beside the model and in ``best.json``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from autodl import analysis, diagnostics
from autodl.backend import load_keras
from autodl.data import feed
from autodl.export import INFO_FILE, MODEL_FILE, DataFor, best_record, write_json
from autodl.log import logger
from autodl.spec import Spec

ANALYSIS_DIR = "analysis"
DIAGNOSIS_FILE = "diagnosis.md"


def finalize(spec: Spec, data_for: DataFor, directory: Path, best: Any) -> tuple[dict[str, Any], diagnostics.Diagnosis]:
    """The best trial's record with test metrics, its diagnosis, and its error analysis.

    When the folder holds no model for ``best`` (removed after an earlier run), the record and
    diagnosis come from the study, without test metrics or error analysis.
    """
    data = data_for(best.user_attrs["config"])
    info_path, model_path = directory / INFO_FILE, directory / MODEL_FILE
    saved = json.loads(info_path.read_text()) if info_path.is_file() else None
    if saved is None or saved.get("trial") != best.number or not model_path.is_file():
        logger.warning(
            "no saved model for best trial %d in %s; its record comes from the study",
            best.number, directory,
        )
        record = best_record(spec, data, best, dict(best.user_attrs.get("metrics", {})))
        return record, _diagnose(spec, record)
    model = load_keras().saving.load_model(model_path)
    batch = saved["config"]["training"]["batch_size"]
    test = data.splits["test"]
    if len(test) > 0:
        scores = model.evaluate(**feed.eval_inputs(test, batch), verbose=0, return_dict=True)
        saved["metrics"].update({f"test_{k}": float(v) for k, v in scores.items()})
    diagnosis = _diagnose(spec, saved)
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
    write_json(info_path, saved)
    return saved, diagnosis


def _diagnose(spec: Spec, record: dict[str, Any]) -> diagnostics.Diagnosis:
    settings = spec.diagnostics
    return diagnostics.from_metrics(
        record["metrics"], record["task"], spec.search.objective.metric, settings.human_error,
        "human_error" in settings.model_fields_set, settings.tolerance,
    )
