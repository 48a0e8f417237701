"""One trial, as a few short steps: start clean, build, compile, fit with the callbacks, and
measure the outcome.

Knows nothing of Optuna or MLflow: the search passes a ``should_prune`` callable and epoch
listeners, and gets a ``TrialOutcome`` back.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from autodl.data import feed
from autodl.data.dataset import Dataset
from autodl.models import build_builtin
from autodl.models.base import Built, ModelBuilder
from autodl.outcome import Config, EpochListener, PruneCheck, Suggest, TrialOutcome
from autodl.runtime.backend import load_keras
from autodl.runtime.log import logger
from autodl.spec import metrics
from autodl.trial.compile import compile_model
from autodl.trial.measure import (
    evaluate_splits,
    measure,
    model_summary,
    predicted_scores,
)
from autodl.trial.monitor import EpochWatch, callbacks
from autodl.trial.weights import fit_weights


def run_trial(
    config: Config,
    data: Dataset,
    objective: str,
    seed: int,
    should_prune: PruneCheck,
    listeners: list[EpochListener],
    build: ModelBuilder = build_builtin,
    suggest: Suggest | None = None,
    jit_compile: bool | str = "auto",
) -> TrialOutcome:
    """Build, compile and fit one configuration; measure it on each split when it completes.

    A model that its builder compiled already (a custom ``build(hp)``) keeps its own optimizer,
    loss and metrics. ``jit_compile`` is Keras's XLA switch (``runtime.xla``).
    """
    started = time.perf_counter()
    start_clean(seed)
    built = build(config["model"], data, suggest)
    ours = not built.compiled
    if ours:
        compile_model(built.model, data.task, config, jit_compile)
    batch_size = config["training"]["batch_size"]
    extra = dev_scores(built.model, data, batch_size) if ours and _needs_dev_scores(objective, data) else None
    watch = EpochWatch(objective, should_prune, listeners, extra)
    train_time_s = train(built, data, config, seed, watch, ours, jit_compile)
    outcome = outcome_of(built, watch, data, objective, batch_size, train_time_s, ours)
    outcome.duration_s = time.perf_counter() - started
    return outcome


def train(built: Built, data: Dataset, config: Config, seed: int, watch: EpochWatch, ours: bool,
          jit_compile: bool | str) -> float:
    """Fit for ``training.epochs``; a model that fine-tunes (``built.fine_tune``) trains its head
    first, then unfreezes and is compiled again at the fine-tuning rate for the rest of the epochs.
    The epochs of each phase go into ``built.facts``. Returns the seconds spent fitting."""
    epochs = config["training"]["epochs"]
    phased = built.fine_tune
    first = phased.head_epochs(epochs) if phased is not None else epochs
    seconds = fit(built, data, config, seed, callbacks(watch, config, schedule=ours), 0, first)
    if built.fit is not None and watch.epochs == 0:
        logger.warning("the hypermodel's fit(hp, model, ...) did not pass autodl's callbacks on to "
                       "model.fit: this trial was neither pruned nor tracked epoch by epoch")
    if phased is None:
        return seconds
    head = watch.epochs
    if first < epochs and watch.pruned_epoch is None and watch.stop_reason is None:
        phased.unfreeze()
        tuned = {**config, "optimizer": {**config["optimizer"], "learning_rate": phased.learning_rate}}
        compile_model(built.model, data.task, tuned, jit_compile)
        seconds += fit(built, data, tuned, seed, callbacks(watch, tuned, schedule=True), head,
                       head + epochs - first)
    built.facts.update(epochs_head=head, epochs_fine_tune=watch.epochs - head)
    return seconds


def start_clean(seed: int) -> None:
    """Clear the previous trial's Keras state and seed this one.

    What survives the collection is long-lived (data, the study, the tracker) and is frozen out
    of later collections, which would otherwise scan it all again before every trial. The caller
    must hold no reference to an earlier trial's model by then.
    """
    keras = load_keras()
    keras.utils.clear_session(free_memory=True)
    gc.freeze()
    keras.utils.set_random_seed(seed)


def _needs_dev_scores(objective: str, data: Dataset) -> bool:
    return objective.removeprefix("dev_") in metrics.computed_here(data.task)


def dev_scores(model: Any, data: Dataset, batch_size: int) -> Callable[[], dict[str, float]]:
    """Per-epoch dev F1 (and multiclass AUC) for objectives Keras does not log."""
    dev = data.splits["dev"]
    return lambda: {
        f"dev_{k}": v for k, v in predicted_scores(model, dev, data.task, batch_size).items()
    }


def fit(built: Built, data: Dataset, config: Config, seed: int, fit_callbacks: list[Any],
        start: int, end: int) -> float:
    """Fit epochs ``start`` to ``end`` (0-based, end excluded) on train with dev as validation
    data, through the hypermodel's own ``fit`` when it has one; return the seconds spent fitting."""
    training = config["training"]
    inputs = feed.fit_inputs(data.train, training["batch_size"], seed)
    options = {
        "validation_data": feed.validation_data(data.splits["dev"], training["batch_size"]),
        "initial_epoch": start, "epochs": end, "callbacks": fit_callbacks, "verbose": 0,
        **fit_weights(training, data),
    }
    started = time.perf_counter()
    if built.fit is None:
        built.model.fit(**inputs, **options)
    else:
        built.fit(inputs, **options)
    return time.perf_counter() - started


def outcome_of(
    built: Built, watch: EpochWatch, data: Dataset, objective: str, batch_size: int,
    train_time_s: float, ours: bool,
) -> TrialOutcome:
    """Failed (NaN loss, no objective), pruned (at its epoch), or complete with the model measured
    on each split; a complete trial keeps its model for saving."""
    model = built.model
    outcome = TrialOutcome(
        state="complete", history=watch.history, epochs=watch.epochs,
        params_count=int(model.count_params()), params=built.params, summary=model_summary(model),
        facts=built.facts,
    )
    if watch.stop_reason is not None:
        outcome.state, outcome.reason = "failed", watch.stop_reason
        return outcome
    if watch.pruned_epoch is not None:
        outcome.state, outcome.pruned_epoch = "pruned", watch.pruned_epoch
        outcome.value = watch.history[objective][-1]
        return outcome
    outcome.metrics = evaluate_splits(model, data, batch_size, predicted=ours)
    outcome.metrics.update(measure(model, data, batch_size, train_time_s))
    returned = built.fit.value(objective) if built.fit is not None else None
    outcome.value = outcome.metrics[objective] if returned is None else returned
    if not np.isfinite(outcome.value):
        outcome.state, outcome.reason = "failed", f"{objective} is {outcome.value}"
    else:
        outcome.model = model
    return outcome
