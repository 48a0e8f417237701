"""An export bundle: the best model in each requested format, checked against the Keras model,
with its label names, text vectorization, manifest and model card, published to MLflow.

The folder (default ``best_model/<name>/export``) is usable without autodl:

    export.json            manifest: task, labels, input, formats and their checks, metrics
    labels.json            task and label names, in the order of the model's outputs
    MODEL_CARD.md          data, splits, hyperparameters, metrics, diagnosis, latency, size, loading
    model.keras            Keras 3, raw inputs (normalization and vocabulary inside)
    saved_model/           TensorFlow SavedModel for TF Serving, raw inputs
    model.tflite           TFLite built-in ops; token ids in for text models
    model.onnx             ONNX; token ids in for text models
    text_vectorization.json, preprocess_text.py   text models with tflite or onnx

With ``export.ensemble: K`` the model is the average of the K best trials (``ensemble.py``), and
``export.json``, the model card and ``best.json`` give its scores beside the best single model's.
"""

from __future__ import annotations

import functools
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import numpy as np

from autodl import __version__
from autodl.data import DataFor, Dataset, Loaded, for_config, load_dataset, resolve
from autodl.data.tables import TABLE_SUFFIXES, read_frame
from autodl.errors import AutodlError
from autodl.export import ensemble, formats, textprep
from autodl.export.modelcard import render
from autodl.export.retrain import Best, load_best, refit
from autodl.results.record import (
    EXPORT_FOLDER,
    BestRecord,
    best_dir,
    data_record,
    folder_lock,
    read_record,
    saved_model,
    updating,
    write_json,
    write_record,
)
from autodl.runtime.backend import load_keras
from autodl.runtime.log import logger
from autodl.spec import Spec
from autodl.tracking import publish
from autodl.trial.measure import median_latency_ms

MANIFEST_FILE = "export.json"
LABELS_FILE = "labels.json"
CARD_FILE = "MODEL_CARD.md"
VECTORIZER_FILE = "text_vectorization.json"
PREPROCESS_FILE = "preprocess_text.py"
CHECK_EXAMPLES = 64
TOLERANCE = 1e-4
"""Largest difference from Keras, relative to the outputs' scale when above 1, before a warning."""


@dataclass(frozen=True)
class ExportOptions:
    """What to export: the formats, whether to refit on more data, a registry name, and how many
    of the best trials to average (1: the best model alone)."""

    formats: list[str]
    retrain: bool = False
    include_dev: bool = False
    registered_name: str | None = None
    ensemble: int = 1


def registry_name(spec: Spec, registry: bool | str) -> str | None:
    """The model-registry name asked for: ``true`` means the spec's name."""
    if registry is True:
        return spec.name
    return registry or None


def options(spec: Spec) -> ExportOptions:
    """The export the spec's ``export`` section asks for."""
    section = spec.export
    return ExportOptions(formats.parse(section.formats), section.retrain, section.include_dev,
                         registry_name(spec, section.registry), section.ensemble or 1)


def default_out(spec: Spec) -> Path:
    """``<export.dir or best_model/<name>>/export``."""
    return best_dir(spec) / EXPORT_FOLDER


def check_out(out: Path) -> None:
    """``out`` must be new, empty, or an earlier export, since it is replaced whole."""
    if out.exists() and not (out.is_dir() and (not any(out.iterdir()) or (out / MANIFEST_FILE).is_file())):
        raise AutodlError(
            f"{out} exists and is not an autodl export (no {MANIFEST_FILE}); it would be replaced. "
            "Choose another --out, or remove it."
        )


def _table_features(spec: Spec) -> list[str] | None:
    """The feature columns a table source was read with (``None`` for other sources)."""
    ref = resolve(spec.data.source, spec.base_dir)
    if ref.path is None or ref.path.is_dir() or ref.path.suffix.lower() not in TABLE_SUFFIXES:
        return None
    columns = [str(c) for c in read_frame(ref.path).columns]
    label = spec.data.label or ("label" if "label" in columns else columns[-1])
    return spec.data.features or [c for c in columns if c != label]


def describe_input(spec: Spec, data: Dataset, model: Any) -> dict[str, Any]:
    """What ``autodl predict`` and users need to feed the model raw input."""
    tensor = model.inputs[0]
    shape = [int(d) for d in tensor.shape[1:]]
    described: dict[str, Any] = {
        "kind": data.kind, "name": tensor.name, "dtype": str(tensor.dtype), "shape": shape,
    }
    if data.kind == "image":
        described["color_mode"] = "grayscale" if shape[-1] == 1 else "rgb"
    elif data.kind == "tabular":
        described["features"] = _table_features(spec)
    elif data.kind == "text":
        described["text_column"] = spec.data.text or "text"
    return described


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def save_formats(
    prepared: formats.ExportModel, names: list[str], folder: Path, sample: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Save each format into ``folder``, load it back, and compare its outputs on ``sample`` with
    the Keras model's: the largest difference, the latency of that batch, the size on disk."""
    reference = np.asarray(prepared.model.predict(sample, verbose=0))
    encode = None
    if prepared.vectorizer is not None:
        encoder = textprep.TextEncoder(prepared.vectorizer["config"], prepared.vectorizer["vocabulary"])
        encode = encoder.encode
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        fmt = formats.get(name)
        started = time.perf_counter()
        fmt.save(prepared, folder / fmt.path)
        predict = formats.loader(name, folder, encode)
        difference = float(np.max(np.abs(predict(sample) - reference)))
        if difference > TOLERANCE * max(1.0, float(np.max(np.abs(reference)))):
            logger.warning("%s: outputs differ from the Keras model's by up to %.3g", name, difference)
        results[name] = {
            "path": fmt.path, "raw_text": fmt.raw_text, "bytes": _size(folder / fmt.path),
            "max_abs_diff": difference, "latency_ms": median_latency_ms(predict, sample),
        }
        logger.info("saved %s (%s) in %.1f s; largest difference from Keras %.2g", name, fmt.path,
                    time.perf_counter() - started, difference)
    return results


def _model_for(spec: Spec, data: Dataset, best: Best, choice: ExportOptions) -> tuple[Any, dict[str, Any]]:
    """The model to export and its training facts: refit, or the model the search saved."""
    record = best.record
    if choice.retrain:
        fitted = refit(spec, data, record, choice.include_dev)
        return fitted.model, {"retrained": True, "trained_on": fitted.trained_on,
                              "epochs": fitted.epochs, "seed": record.get("seed"),
                              "metrics": fitted.metrics}
    folder = best.folder or best_dir(spec)
    found = saved_model(folder, record["trial"])
    if found is None:
        raise AutodlError(
            f"{folder} holds no saved model of the best trial #{record['trial']} (it "
            "was saved elsewhere or removed). Export with --retrain (export.retrain: true) to "
            "rebuild it from its configuration."
        )
    model = load_keras().saving.load_model(found[1])
    return model, {"retrained": False, "trained_on": ["train"], "epochs": record.get("epochs"),
                   "seed": record.get("seed"), "metrics": dict(record["metrics"])}


def _prepared(model: Any, names: list[str]) -> formats.ExportModel:
    """Split text models only when a format needs token ids."""
    if all(formats.get(n).raw_text for n in names):
        return formats.ExportModel(model, model)
    return formats.prepare(model)


def manifest_for(
    spec: Spec, data: Dataset, best: Best, facts: dict[str, Any], described: dict[str, Any],
) -> dict[str, Any]:
    """The manifest, without its formats and MLflow entries."""
    record = best.record
    return {
        "autodl_version": __version__,
        "name": spec.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "family": record["config"]["model"]["family"],
        "task": data.task,
        "class_names": list(data.class_names),
        "input": described,
        "data": data_record(spec, data),
        "trial": record["trial"],
        "objective": record["objective"],
        "hyperparameters": record["hyperparameters"],
        "training": {k: facts[k] for k in ("retrained", "trained_on", "epochs", "seed")},
        "metrics": {"search": record["metrics"], "exported": facts["metrics"]},
        "diagnosis": record.get("diagnosis"),
    }


def _stage(
    spec: Spec, data: Dataset, best: Best, choice: ExportOptions, staging: Path,
    tracking_uri: str | None, data_for: DataFor,
) -> tuple[dict[str, Any], str | None]:
    """Write every file of the bundle into ``staging`` and log the model to MLflow; returns the
    manifest and the MLflow run it was logged to."""
    combined = None
    if choice.ensemble > 1:
        combined = ensemble.build(spec, data, best, choice.ensemble, data_for, choice.retrain,
                                  choice.include_dev)
        model, facts = combined.model, combined.facts
        prepared = ensemble.prepare(model, choice.formats)
    else:
        model, facts = _model_for(spec, data, best, choice)
        prepared = _prepared(model, choice.formats)
    held_out = "test" if len(data.splits["test"]) else "dev"
    sample = data.splits[held_out].examples(slice(0, CHECK_EXAMPLES))
    manifest = manifest_for(spec, data, best, facts, describe_input(spec, data, model))
    if combined is not None:
        manifest["ensemble"] = combined.summary
    manifest["formats"] = save_formats(prepared, choice.formats, staging, sample)
    manifest["verified_on"] = {"split": held_out, "examples": len(sample)}
    if prepared.vectorizer is not None:
        write_json(staging / VECTORIZER_FILE, prepared.vectorizer)
        shutil.copyfile(textprep.__file__, staging / PREPROCESS_FILE)
        manifest["text"] = {"vectorizer": VECTORIZER_FILE, "preprocess": PREPROCESS_FILE,
                            "sequence_length": prepared.vectorizer["config"]["output_sequence_length"]}
    write_json(staging / LABELS_FILE, {"task": data.task, "class_names": list(data.class_names)})
    run_id = best.parent_run_id if tracking_uri else None
    if run_id and tracking_uri:
        outputs = np.asarray(model.predict(sample, verbose=0))
        manifest["mlflow"] = publish.log_model(
            model, sample, outputs, tracking_uri, run_id, choice.registered_name
        )
    elif tracking_uri or choice.registered_name:
        why = "no MLflow parent run is recorded for its study" if tracking_uri else "tracking.enabled is false"
        report = logger.warning if choice.registered_name else logger.info
        report("the export is not logged to MLflow%s: %s", " nor registered" * bool(choice.registered_name), why)
    write_json(staging / MANIFEST_FILE, manifest)
    (staging / CARD_FILE).write_text(
        render(manifest, {name: formats.get(name).how_to_load for name in manifest["formats"]}),
        encoding="utf-8",
    )
    return manifest, run_id


def write_bundle(
    spec: Spec, data: Dataset, best: Best, choice: ExportOptions, out: Path,
    tracking_uri: str | None, data_for: DataFor | None = None,
) -> dict[str, Any]:
    """Write the export bundle to ``out`` (replacing an earlier one only once the new one is
    complete) and publish it to MLflow at ``tracking_uri`` (``None``: not at all). Returns its
    manifest. ``data_for(config)`` gives an ensemble member's data (default: ``reloading``)."""
    if not choice.formats:
        raise AutodlError(f"No export formats chosen; pick from {', '.join(formats.FORMATS.names)}.")
    check_out(out)
    staging = out.parent / f".{out.name}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        manifest, run_id = _stage(spec, data, best, choice, staging, tracking_uri,
                                  data_for or reloading(spec, data, best.record))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if run_id and tracking_uri:
        publish.log_files(tracking_uri, run_id, [out / CARD_FILE, out / MANIFEST_FILE, out / LABELS_FILE])
    logger.info("exported %s to %s (model card: %s)", ", ".join(choice.formats), out, out / CARD_FILE)
    return manifest


def reloading(spec: Spec, data: Dataset, record: BestRecord) -> DataFor:
    """The data of a configuration: ``data`` (the best trial's) for one with the same data
    section, else the spec's data read again, once, and cut for it (a series' window)."""

    @functools.cache
    def loaded() -> Loaded:
        return load_dataset(spec.data, spec.base_dir, spec.seed)

    same = record["config"].get("data")
    return lambda config: data if config.get("data") == same else for_config(loaded(), config)


def record_ensemble(folder: Path, manifest: dict[str, Any]) -> None:
    """Put the export's ensemble entry (its scores beside the best single model's) into the
    folder's ``best.json``, or take an earlier export's out; a record of another trial is left
    as it is. Call it holding the folder's lock, on the folder being staged."""
    record = read_record(folder)
    if record is None or record.get("trial") != manifest["trial"]:
        return
    updated: dict[str, Any] = {key: value for key, value in record.items() if key != "ensemble"}
    if "ensemble" in manifest:
        updated["ensemble"] = manifest["ensemble"]
    if updated != record:
        write_record(folder, cast(BestRecord, updated))


def after_search(
    spec: Spec, record: BestRecord, data: Dataset, parent_run_id: str | None, folder: Path | None = None,
) -> Path | None:
    """The export a finished search ends with (``export.formats``; none when empty), written to the
    ``export/`` of ``folder``, the best-model folder being staged (default ``best_dir(spec)``),
    which holds the model.

    A problem with the export is reported and leaves the search's results as they are.
    """
    choice = options(spec)
    if not choice.formats:
        return None
    out = (folder or best_dir(spec)) / EXPORT_FOLDER
    uri = spec.tracking.uri if spec.tracking.enabled else None
    try:
        manifest = write_bundle(spec, data, Best(record, parent_run_id, folder), choice, out, uri)
        record_ensemble(folder or best_dir(spec), manifest)
    except AutodlError as exc:
        logger.error("export failed: %s Run `autodl export` once it is fixed.", exc)
        return None
    return out


def recorded_source(spec: Spec) -> str | None:
    """The data location the search recorded in ``best.json`` when it differs from the spec's
    (a ``--data`` override) and still exists, so an export retrains and checks on the same data."""
    saved = read_record(best_dir(spec))
    location = saved.get("data", {}).get("location") if saved else None
    if not location or location == spec.data.source:
        return None
    try:
        resolve(location, spec.base_dir)
    except AutodlError:
        return None
    return str(location)


def export_spec(
    spec: Spec, names: list[str], out: Path | None, register: bool, data_given: bool
) -> tuple[dict[str, Any], Path]:
    """``autodl export``: the best trial of the spec's search, written to ``out`` (default
    ``best_model/<name>/export``) in the formats ``names`` (all when empty), and published to
    MLflow. ``data_given`` says ``--data`` chose the data; otherwise the search's is reused."""
    if not data_given:
        location = recorded_source(spec)
        if location is not None:
            logger.info("using the data the search used: %s (pass --data to change it)", location)
            spec = spec.with_overrides(**{"data.source": location})
    choice = options(spec)
    target = out or default_out(spec)
    check_out(target)
    chosen = formats.parse(names or list(formats.FORMATS.names))
    name = choice.registered_name or (registry_name(spec, True) if register else None)
    choice = ExportOptions(chosen, choice.retrain, choice.include_dev, name, choice.ensemble)

    @functools.cache
    def loaded() -> Loaded:
        """The data, read once the best trial is known (no search: no data read, no download)."""
        return load_dataset(spec.data, spec.base_dir, spec.seed)

    def data_for(config: dict[str, Any]) -> Dataset:
        return for_config(loaded(), config)

    folder = best_dir(spec)
    uri = spec.tracking.uri if spec.tracking.enabled else None
    best = load_best(spec, data_for, folder)
    if out is not None and out.resolve() != default_out(spec).resolve():
        return write_bundle(spec, data_of(loaded(), best), best, choice, target, uri, data_for), target
    with folder_lock(folder):  # the best trial again: another process may have saved a better one
        best = load_best(spec, data_for, folder)
        kept = tuple(p.name for p in folder.iterdir() if p.name != EXPORT_FOLDER) if folder.is_dir() else ()
        with updating(folder, keep=kept) as stage:
            manifest = write_bundle(spec, data_of(loaded(), best), best, choice, stage / EXPORT_FOLDER,
                                    uri, data_for)
            record_ensemble(stage, manifest)
    return manifest, target


def data_of(loaded: Loaded, best: Best) -> Dataset:
    """The data the best trial's configuration trains on."""
    return for_config(loaded, best.record["config"])
