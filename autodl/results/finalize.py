"""The end of a search: measure the best model once on test, score the baselines on the same
splits, diagnose bias and variance against the noise, and analyze the errors on dev (with a
learning curve when asked). Everything lands beside the model and in ``best.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial

from autodl.data import DataFor, Dataset, feed
from autodl.errors import AutodlError
from autodl.results import analysis
from autodl.results.baselines import Baselines, score_baselines
from autodl.results.diagnosis import Diagnosis, Reference, default_floor, diagnose
from autodl.results.learning_curve import (
    CURVE_FILE,
    LearningCurve,
    best_trial_fit,
    learning_curve,
    plot_learning_curve,
)
from autodl.results.record import (
    BestRecord,
    folder_lock,
    read_record,
    record_of,
    saved_model,
    updating,
    write_record,
)
from autodl.results.uncertainty import SplitError, diagnosis_metric, from_rate, measure_errors
from autodl.runtime.backend import load_keras
from autodl.runtime.log import logger
from autodl.spec import Spec
from autodl.trial.measure import evaluate_split

ANALYSIS_DIR = "analysis"
DIAGNOSIS_FILE = "diagnosis.md"


def finalize(spec: Spec, data_for: DataFor, directory: Path, best: FrozenTrial) -> tuple[BestRecord, Diagnosis]:
    """The best trial's record with test metrics, baselines, its diagnosis and error analysis.

    When the folder holds no model for ``best`` (removed after an earlier run), the record and
    diagnosis come from the study: error rates with their sizes, no test metrics, no analysis.
    """
    data = data_for(best.user_attrs["config"])
    found = saved_model(directory, best.number)
    if found is None:
        logger.warning(
            "no saved model for best trial %d in %s; its record comes from the study",
            best.number, directory,
        )
        record = record_of(spec, data, best, dict(best.user_attrs.get("metrics", {})))
        diagnosis = diagnose_errors(spec, data, errors_from_metrics(record["metrics"], data, spec), None, None)
        return record, diagnosis
    saved, model_path = found
    model = load_keras().saving.load_model(model_path)
    batch = saved["config"]["training"]["batch_size"]
    test = evaluate_split(model, data.splits["test"], data.task, batch)
    saved["metrics"].update({f"test_{k}": v for k, v in test.items()})
    baselines = baselines_for(spec, data)
    curve = curve_for(spec, data, saved, directory) if spec.diagnostics.learning_curve else None
    diagnosis = diagnosis_of(spec, data, model, batch, baselines, curve)
    outputs = model.predict(**feed.predict_inputs(data.splits["dev"], batch), verbose=0)
    result = analysis.write(directory / ANALYSIS_DIR, data, outputs, saved.get("history", {}),
                            spec.search.objective.metric)
    if result is not None:
        saved["error_analysis"] = {
            "per_class_error": result.per_class_error,
            "per_class_recall": result.per_class_recall,
            "most_confused": [list(pair) for pair in result.confused_pairs()],
        }
    store(directory, saved, diagnosis, baselines, curve)
    return saved, diagnosis


def store(directory: Path, record: BestRecord, diagnosis: Diagnosis, baselines: Baselines | None,
          curve: LearningCurve | None) -> None:
    """Write the diagnosis into ``best.json`` and ``diagnosis.md``, with the baselines and curve."""
    record["diagnosis"] = diagnosis.to_record()
    if baselines is not None:
        record["baselines"] = baselines.to_record()
    if curve is not None:
        record["learning_curve"] = curve.to_record()
    (directory / DIAGNOSIS_FILE).write_text(diagnosis.report(), encoding="utf-8")
    write_record(directory, record)


def baselines_for(spec: Spec, data: Dataset) -> Baselines | None:
    """The baselines' scores on the search's splits, unless ``diagnostics.baselines`` is off."""
    if not spec.diagnostics.baselines:
        return None
    metric = diagnosis_metric(data.task, spec.search.objective.metric)
    found = score_baselines(data, metric, spec.seed)
    for name, why in found.skipped.items():
        logger.info("baseline %s skipped: %s", name, why)
    return found


def curve_for(spec: Spec, data: Dataset, record: BestRecord, directory: Path) -> LearningCurve:
    """Retrain the record's configuration on growing shares of train; plot it beside the model."""
    metric = diagnosis_metric(data.task, spec.search.objective.metric)
    shares = spec.diagnostics.learning_curve_shares
    logger.info("learning curve: retraining trial %s on %s of train", record["trial"],
                ", ".join(f"{s:.0%}" for s in shares))
    curve = learning_curve(data, best_trial_fit(spec, record), metric, record["config"]["training"]["batch_size"],
                           shares, spec.seed)
    plot_learning_curve(curve, directory / CURVE_FILE)
    return curve


def references(baselines: Baselines | None) -> tuple[Reference, ...]:
    """Every scored baseline, as the diagnosis shows it."""
    if baselines is None:
        return ()
    return tuple(Reference(s.name, s.description, s.errors) for s in baselines.scores)


def reference_of(baselines: Baselines | None) -> Reference | None:
    """The baseline the network is compared with: the best classical one on dev, else the best
    trivial one."""
    if baselines is None:
        return None
    classical = [s for s in baselines.scores if s.kind == "classical" and "dev" in s.errors]
    pool = classical or [s for s in baselines.scores if "dev" in s.errors]
    if not pool:
        return None
    best = min(pool, key=lambda s: s.errors["dev"].error)
    return Reference(best.name, best.description, best.errors)


def diagnosis_of(spec: Spec, data: Dataset, model: Any, batch_size: int, baselines: Baselines | None,
                 curve: LearningCurve | None) -> Diagnosis:
    """Measure ``model`` on every split (errors with sizes and standard errors) and diagnose it."""
    metric = diagnosis_metric(data.task, spec.search.objective.metric)
    errors = measure_errors(model, data, metric, batch_size, seed=spec.seed)
    return diagnose_errors(spec, data, errors, baselines, curve)


def diagnose_errors(spec: Spec, data: Dataset, errors: dict[str, SplitError], baselines: Baselines | None,
                    curve: LearningCurve | None) -> Diagnosis:
    """The diagnosis of measured errors against the spec's human level and floor."""
    if "train" not in errors or "dev" not in errors:
        raise AutodlError(
            f"Cannot diagnose the best model: it was measured on {', '.join(errors) or 'no split'}, but "
            "the diagnosis needs train and dev. Run the search again to measure it."
        )
    settings = spec.diagnostics
    floor = settings.tolerance if settings.tolerance is not None else default_floor(data.task, errors["dev"])
    return diagnose(
        diagnosis_metric(data.task, spec.search.objective.metric), errors, human=settings.human_error,
        origin=data.origin, floor=floor, family=spec.model.family, kind=data.kind,
        reference=reference_of(baselines), baselines=references(baselines),
        curve_trend=curve.trend() if curve else None, curve_reading=curve.reading() if curve else None,
    )


def errors_from_metrics(metrics: dict[str, float], data: Dataset, spec: Spec) -> dict[str, SplitError]:
    """Split errors from a trial's stored metrics when its model is gone: error rates with their
    binomial standard errors; for regression the standard error is unknown (nan), so no gap is
    claimed."""
    metric = diagnosis_metric(data.task, spec.search.objective.metric)
    found: dict[str, SplitError] = {}
    for name, n in data.sizes().items():
        if data.task in ("binary", "multiclass"):
            value = metrics.get(f"{name}_accuracy")
            if value is not None:
                found[name] = from_rate(name, 1.0 - float(value), n)
        else:
            value = metrics.get(f"{name}_{metric}")
            if value is not None:
                found[name] = SplitError(name, float(value), n, float("nan"))
    return found


def rediagnose(spec: Spec, data: Dataset, directory: Path) -> tuple[BestRecord, Diagnosis, LearningCurve]:
    """``autodl diagnose``: the saved best model's learning curve, and its diagnosis redone with it,
    written as a new version of the whole folder (under its lock, swapped in whole)."""
    with folder_lock(directory):
        record = read_record(directory)
        if record is None or "trial" not in record:
            raise AutodlError(f"No best model in {directory}: run `autodl search SPEC` first.")
        found = saved_model(directory, record["trial"])
        if found is None:
            raise AutodlError(f"{directory} holds no model.keras of trial #{record['trial']}: run `autodl "
                              "search SPEC` again to save it.")
        model = load_keras().saving.load_model(found[1])
        with updating(directory, keep=tuple(p.name for p in directory.iterdir())) as stage:
            curve = curve_for(spec, data, record, stage)
            stored = record.get("baselines")
            baselines = Baselines.from_record(stored) if stored else baselines_for(spec, data)
            batch = record["config"]["training"]["batch_size"]
            diagnosis = diagnosis_of(spec, data, model, batch, baselines, curve)
            store(stage, record, diagnosis, baselines, curve)
    return record, diagnosis, curve
