"""Cross-validated trials (``search.cv``): K models on K folds of train + train-dev, the trial's
value their mean held-out score, then one model refit on all of train for everything else.

On a table of a few hundred rows one dev split of ~60 examples carries a standard error of about
six points of accuracy, so choosing between configurations by it mostly chooses noise; the mean
of K held-out folds uses every training example once for validation.

Folds are stratified by class for classification, shuffled for regression, and in time order for
a series (each fold validates on the block that follows what it trains on, never on the past).
Pruning watches the first fold only: its curve is a complete, comparable learning curve at every
epoch, while an average over folds would exist only once every fold has run, too late to save
anything. The refit trains on the train split (train-dev stays held out for the diagnosis) with
dev as validation data, so its dev and test scores, the saved model, export and diagnosis are
those of an ordinary trial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from autodl.data.dataset import Dataset, Split, joined
from autodl.errors import SpecError
from autodl.outcome import Config, EpochListener, PruneCheck, Suggest, TrialOutcome
from autodl.runtime.log import logger

FoldRun = Callable[[Config, Dataset, PruneCheck, list[EpochListener], Suggest], TrialOutcome]
"""Trains one model: ``run_trial`` with the search's builder, objective and seed."""


def pool(data: Dataset) -> Split:
    """What the folds divide: train and train-dev together."""
    return joined([data.splits[n] for n in ("train", "train_dev") if len(data.splits[n])])


def check(data: Dataset, folds: int) -> None:
    """Fail before any training when the data cannot be cut into ``folds`` folds."""
    where = f"Received: search.cv.folds={folds}"
    examples = pool(data)
    if len(examples) < 2 * folds:
        raise SpecError(f"search.cv.folds: {folds} folds need at least {2 * folds} examples in train + "
                        f"train-dev, but {data.name} has {len(examples)}. {where}")
    if data.task in ("binary", "multiclass"):
        counts = np.bincount(examples.y.astype(int), minlength=data.num_classes)
        rarest = int(np.argmin(counts))
        if counts[rarest] < folds:
            raise SpecError(
                f"search.cv.folds: stratified folds need at least {folds} examples of each class in train + "
                f"train-dev, but class {data.class_names[rarest]!r} has {counts[rarest]}; use fewer folds. {where}"
            )


def fold_indices(y: np.ndarray, task: str, folds: int, seed: int,
                 in_time_order: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, held-out) row indices of each fold."""
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    rows = np.zeros(len(y))
    if in_time_order:
        return list(TimeSeriesSplit(n_splits=folds).split(rows))
    if task in ("binary", "multiclass"):
        return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(rows, y))
    return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(rows))


def fold_datasets(data: Dataset, folds: int, seed: int) -> list[Dataset]:
    """One dataset per fold: its training rows as train, its held-out rows as dev, no train-dev
    or test (neither is measured per fold)."""
    examples = pool(data)
    found = []
    for train, held_out in fold_indices(examples.y, data.task, folds, seed, data.origin == "by_time"):
        none = Split(examples.x[:0], examples.y[:0], examples.stream)
        splits = {"train": Split(examples.x[train], examples.y[train], examples.stream), "train_dev": none,
                  "dev": Split(examples.x[held_out], examples.y[held_out], examples.stream), "test": none}
        found.append(replace(data, splits=splits))
    return found


def never(epoch: int, value: float) -> bool:
    """Later folds and the refit are not pruned."""
    return False


def cross_validated(
    run: FoldRun, config: Config, data: Dataset, objective: str, seed: int, should_prune: PruneCheck,
    listeners: list[EpochListener], suggest: Suggest, folds: int,
) -> TrialOutcome:
    """Train ``config`` on each fold, then refit it on all of train; the outcome is the refit's,
    with the folds' mean held-out score as its value and the spread in its metrics.

    ``seed`` shuffles the folds. A fold that is pruned or fails ends the trial with that state.
    """
    scores: list[float] = []
    for number, fold in enumerate(fold_datasets(data, folds, seed), start=1):
        outcome = run(config, fold, should_prune if number == 1 else never, [], suggest)
        if outcome.state != "complete" or outcome.value is None:
            if outcome.reason:
                outcome.reason = f"fold {number} of {folds}: {outcome.reason}"
            outcome.facts["cv_fold"] = number
            return outcome
        scores.append(float(outcome.value))
        logger.debug("fold %d of %d: %s %.4g", number, folds, objective, outcome.value)
    final = run(config, data, never, listeners, suggest)
    if final.state != "complete":
        final.reason = f"refit on all of train: {final.reason}"
        return final
    mean, spread = float(np.mean(scores)), float(np.std(scores, ddof=1))
    final.metrics.update({f"cv_{objective}": mean, f"cv_{objective}_std": spread,
                          **{f"cv_{objective}_fold{i}": s for i, s in enumerate(scores, start=1)}})
    final.facts["cv_folds"] = folds
    final.value = mean
    return final
