"""The best configuration of a finished (or resumed) search, rebuilt and refit for export.

The best trial comes from the Optuna study (the best feasible trial), with its richer record from
``best.json`` when that file describes the same trial. Refitting uses the trial's own builder,
optimizer, schedule and seed (``trial.run_trial``) on train + train-dev (+ dev), for the number
of epochs the trial found best. ``replay`` trains a trial's configuration again exactly as the
search did (train only, its epochs and early stopping), for ensemble members the folder holds no
model of.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autodl import models
from autodl.data import DataFor, Dataset, Split
from autodl.data.dataset import joined
from autodl.errors import AutodlError
from autodl.outcome import Config, TrialOutcome
from autodl.results.record import INFO_FILE, BestRecord, read_record, record_of
from autodl.runtime.log import logger
from autodl.runtime.stores import mask_url, study_storage
from autodl.search.study import best_trial, find_study, holdings
from autodl.spec import Spec
from autodl.tracking import PARENT_RUN_ATTR
from autodl.trial import run_trial
from autodl.trial.measure import evaluate_split


@dataclass
class Best:
    """The best trial's record (the shape of ``best.json``), the search's MLflow parent run, and
    the folder holding its ``model.keras`` when that is not the best-model folder (the folder a
    search's end is staging)."""

    record: BestRecord
    parent_run_id: str | None = None
    folder: Path | None = None


def load_best(spec: Spec, data_for: DataFor, directory: Path) -> Best:
    """The best feasible trial of the spec's study, or the one ``best.json`` records when the
    study is gone; ``data_for(config)`` gives the trial's data (for the record's sizes), and is
    called only once the trial is found."""
    url = study_storage(spec)
    saved = read_record(directory)
    study = find_study(spec.name, url)
    if study is None:
        if saved is None:
            raise AutodlError(
                f"No study {spec.name!r} in {mask_url(url)} ({holdings(url)}) and no "
                f"{directory / INFO_FILE}, so there is nothing to export. Run `autodl search SPEC` "
                "first (or pass --storage)."
            )
        logger.warning("no study %r in %s; exporting the trial %s records", spec.name,
                       mask_url(url), directory / INFO_FILE)
        return Best(saved)
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
    return Best(record_of(spec, data, trial, dict(trial.user_attrs.get("metrics", {}))), parent)


def best_epochs(record: BestRecord) -> int:
    """How long to train: the epoch of the lowest dev loss when early stopping restored it, else
    the epochs the trial ran."""
    config = record["config"]["training"]
    ran = int(record.get("epochs") or config["epochs"])
    losses = record.get("history", {}).get("dev_loss", [])
    if config.get("early_stopping") and losses:
        return int(np.nanargmin(losses)) + 1
    return ran


def training_data(data: Dataset, include_dev: bool) -> tuple[Dataset, list[str]]:
    """A dataset whose train split is train + train-dev (+ dev), and the names of those splits.

    Normalization and vocabulary are then adapted on all of it. Dev stays the validation data
    (Keras needs some for the per-epoch objective); test is left out.
    """
    names = ["train", "train_dev"] + (["dev"] if include_dev else [])
    names = [n for n in names if len(data.splits[n])]
    train = joined([data.splits[n] for n in names])
    empty = Split(train.x[:0], train.y[:0], train.stream)
    splits = {"train": train, "train_dev": empty, "dev": data.splits["dev"], "test": data.splits["test"]}
    return Dataset(data.name, data.kind, data.task, splits, data.class_names, data.origin), names


@dataclass
class Refit:
    """A refit model, what it trained on, and its measurements (test included when there is one)."""

    model: Any
    trained_on: list[str]
    epochs: int
    metrics: dict[str, float]


def _train(spec: Spec, config: Config, data: Dataset, record: BestRecord) -> TrialOutcome:
    """Train ``config`` on ``data`` with the record's builder, hyperparameters and seed, and the
    spec's XLA setting, as the search's trials train (no pruning)."""
    params = record.get("hyperparameters", {})
    recorded_seed = record.get("seed")
    seed = int(recorded_seed if recorded_seed is not None else spec.seed)
    return run_trial(
        config, data, spec.search.objective.metric, seed, lambda epoch, value: False, [],
        models.builder(spec.model, spec.base_dir), lambda name, dist: params[name], spec.runtime.xla,
    )


def refit(spec: Spec, data: Dataset, record: BestRecord, include_dev: bool) -> Refit:
    """Rebuild the record's configuration and fit it on train + train-dev (+ dev)."""

    config = copy.deepcopy(record["config"])
    epochs = best_epochs(record)
    config["training"].update(epochs=epochs, early_stopping=None)
    combined, names = training_data(data, include_dev)
    logger.info("retraining trial %s on %s (%d examples) for %d epochs", record["trial"],
                " + ".join(names), len(combined.train), epochs)
    outcome = _train(spec, config, combined, record)
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
    test = evaluate_split(outcome.model, data.splits["test"], data.task, config["training"]["batch_size"])
    metrics.update({f"test_{k}": v for k, v in test.items()})
    return Refit(outcome.model, names, epochs, metrics)


def replay(spec: Spec, data: Dataset, record: BestRecord) -> Any:
    """The record's trial trained again as the search trained it: its configuration as sampled
    (epochs and early stopping included) and its seed, on train, with dev as validation data, so
    dev and test stay as held out as they were for the search."""
    logger.info("rebuilding trial %s on train (%d examples) for up to %s epochs", record["trial"],
                len(data.train), record["config"]["training"]["epochs"])
    outcome = _train(spec, copy.deepcopy(record["config"]), data, record)
    if outcome.model is None:
        raise AutodlError(
            f"Rebuilding trial {record['trial']} for the ensemble failed: {outcome.reason} (its "
            "search run completed; training is not bit-for-bit repeatable). Export again, or a "
            "smaller ensemble (export.ensemble, --ensemble)."
        )
    return outcome.model
