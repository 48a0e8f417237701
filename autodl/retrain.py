"""The best configuration of a finished (or resumed) search, rebuilt and refit for export.

The best trial comes from the Optuna study (the best feasible trial), with its richer record from
``best.json`` when that file describes the same trial. Refitting uses the trial's own builder,
optimizer, schedule and seed (``training.run_trial``) on train + train-dev (+ dev), for the number
of epochs the trial found best.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autodl.data import Dataset, SeriesData, Split, feed
from autodl.errors import AutodlError, StorageError
from autodl.export import INFO_FILE, MODEL_FILE, DataFor, best_record
from autodl.log import logger
from autodl.spec import Spec
from autodl.stores import default_storage, mask_url, sqlite_path
from autodl.tracking import PARENT_RUN_ATTR


@dataclass
class Best:
    """The best trial's record (the shape of ``best.json``) and the search's MLflow parent run."""

    record: dict[str, Any]
    parent_run_id: str | None = None


def storage_url(spec: Spec) -> str:
    """The study's storage, as ``autodl search`` chooses it."""
    return spec.search.storage or default_storage(spec.tracking.uri if spec.tracking.enabled else None)


def saved_record(directory: Path) -> dict[str, Any] | None:
    """The ``best.json`` a search saved in ``directory``, or ``None``."""
    path = directory / INFO_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _study(spec: Spec, url: str) -> Any | None:
    """The spec's study, or ``None`` when the storage has no such study (no SQLite file created)."""
    db = sqlite_path(url)
    if db is not None and str(db) not in ("", ":memory:") and not db.is_file():
        return None
    import optuna

    from autodl.search import make_storage

    try:
        return optuna.load_study(study_name=spec.name, storage=make_storage(url))
    except KeyError:
        return None
    except Exception as exc:  # SQLAlchemy raises many driver-specific types
        raise StorageError(
            f"Cannot open the study storage {mask_url(url)}: {mask_url(str(exc).splitlines()[0])}. "
            "Check --storage / search.storage and that the database server is running."
        ) from None


def load_best(spec: Spec, data_for: DataFor, directory: Path) -> Best:
    """The best feasible trial of the spec's study, or the one ``best.json`` records when the
    study is gone; ``data_for(config)`` gives the trial's data (for the record's sizes)."""
    url = storage_url(spec)
    saved = saved_record(directory)
    study = _study(spec, url)
    if study is None:
        if saved is None:
            raise AutodlError(
                f"No search to export for {spec.name!r}: no study in {mask_url(url)} and no "
                f"{directory / INFO_FILE}. Run `autodl search SPEC` first (or pass --storage)."
            )
        logger.warning("no study %r in %s; exporting the trial %s records", spec.name,
                       mask_url(url), directory / INFO_FILE)
        return Best(saved)
    from autodl.search import best_trial

    trial = best_trial(study)
    if trial is None:
        raise AutodlError(
            f"Study {spec.name!r} in {mask_url(url)} has no complete feasible trial yet: run "
            "`autodl search SPEC` until one completes (a trial over a search.constraints limit "
            "is never exported)."
        )
    parent = study.user_attrs.get(PARENT_RUN_ATTR)
    if saved is not None and saved.get("trial") == trial.number:
        return Best(saved, parent)
    data = data_for(trial.user_attrs["config"])
    return Best(best_record(spec, data, trial, dict(trial.user_attrs.get("metrics", {}))), parent)


def saved_model_path(directory: Path, record: dict[str, Any]) -> Path | None:
    """The saved ``model.keras`` of the record's trial, or ``None`` when the folder holds another
    trial's model or none."""
    saved = saved_record(directory)
    path = directory / MODEL_FILE
    if saved is None or saved.get("trial") != record["trial"] or not path.is_file():
        return None
    return path


def data_for_config(loaded: Dataset | SeriesData, config: dict[str, Any]) -> Dataset:
    """The data a configuration trains on: a time series cut into its ``data.window``."""
    if isinstance(loaded, SeriesData):
        return loaded.windows(config["data"]["window"])
    return loaded


def best_epochs(record: dict[str, Any]) -> int:
    """How long to train: the epoch of the lowest dev loss when early stopping restored it, else
    the epochs the trial ran."""
    config = record["config"]["training"]
    ran = int(record.get("epochs") or config["epochs"])
    losses = record.get("history", {}).get("dev_loss", [])
    if config.get("early_stopping") and losses:
        return int(np.nanargmin(losses)) + 1
    return ran


def _joined(splits: list[Split]) -> Split:
    """One split of all examples; the splits of one source share its stream, if it streams, and
    its examples then stay in source order (a table is read front to back)."""
    x = np.concatenate([s.x for s in splits])
    y = np.concatenate([s.y for s in splits])
    stream = splits[0].stream
    if stream is not None:
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    return Split(x, y, stream)


def training_data(data: Dataset, include_dev: bool) -> tuple[Dataset, list[str]]:
    """A dataset whose train split is train + train-dev (+ dev), and the names of those splits.

    Normalization and vocabulary are then adapted on all of it. Dev stays the validation data
    (Keras needs some for the per-epoch objective); test is left out.
    """
    names = ["train", "train_dev"] + (["dev"] if include_dev else [])
    names = [n for n in names if len(data.splits[n])]
    train = _joined([data.splits[n] for n in names])
    empty = Split(train.x[:0], train.y[:0], train.stream)
    splits = {"train": train, "train_dev": empty, "dev": data.splits["dev"], "test": data.splits["test"]}
    return Dataset(data.name, data.kind, data.task, splits, data.class_names), names


@dataclass
class Refit:
    """A refit model, what it trained on, and its measurements (test included when there is one)."""

    model: Any
    trained_on: list[str]
    epochs: int
    metrics: dict[str, float]


def refit(spec: Spec, data: Dataset, record: dict[str, Any], include_dev: bool) -> Refit:
    """Rebuild the record's configuration and fit it on train + train-dev (+ dev)."""
    from autodl import models, training

    config = copy.deepcopy(record["config"])
    epochs = best_epochs(record)
    config["training"].update(epochs=epochs, early_stopping=None)
    combined, names = training_data(data, include_dev)
    params = record.get("hyperparameters", {})
    build = models.builder(spec.model, spec.base_dir)
    seed = int(record["seed"] if record.get("seed") is not None else spec.seed)
    logger.info("retraining trial %s on %s (%d examples) for %d epochs", record["trial"],
                " + ".join(names), len(combined.train), epochs)
    outcome = training.run_trial(
        config, combined, spec.search.objective.metric, seed, lambda epoch, value: False, [],
        build, lambda name, dist: params[name],
    )
    if outcome.model is None:
        raise AutodlError(
            f"Retraining trial {record['trial']} failed: {outcome.reason}. Export without "
            "--retrain to ship the model the search saved."
        )
    metrics = {k: v for k, v in outcome.metrics.items() if not k.startswith(("dev_", "train_dev_"))}
    if include_dev:
        logger.info("dev was trained on: the exported model's dev scores are not held out")
    else:
        metrics.update({k: v for k, v in outcome.metrics.items() if k.startswith("dev_")})
    metrics.update(scores_on_test(outcome.model, data, config["training"]["batch_size"]))
    return Refit(outcome.model, names, epochs, metrics)


def scores_on_test(model: Any, data: Dataset, batch_size: int) -> dict[str, float]:
    """``test_*`` metrics of a compiled model (empty without a test split)."""
    from autodl import training

    test = data.splits["test"]
    if len(test) == 0:
        return {}
    scores = model.evaluate(**feed.eval_inputs(test, batch_size), verbose=0, return_dict=True)
    scores.update(training.predicted_scores(model, test, data.task, batch_size))
    return {f"test_{k}": float(v) for k, v in scores.items()}
