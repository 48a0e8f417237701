"""Cross-validated trials: how train + train-dev is cut into folds, what cannot be cut, and how the
folds' scores become the trial's value (a fake trainer, no training)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autodl.data.dataset import Dataset, Split
from autodl.errors import SpecError
from autodl.outcome import TrialOutcome
from autodl.trial import folds
from tests.helpers import dataset_from


def table(task: str = "multiclass", n: int = 60, train_dev: int = 12, origin: str = "random") -> Dataset:
    """``n`` rows of train (their row number as the one feature) and ``train_dev`` more rows."""
    x = np.arange(n + train_dev, dtype="float32").reshape(-1, 1)
    y = (np.arange(n + train_dev) % 3) if task != "regression" else np.arange(n + train_dev, dtype="float32")
    data = dataset_from("tabular", task, x[:n], y[:n])
    splits = {**data.splits, "train_dev": Split(x[n:], y[n:])}
    return Dataset(data.name, data.kind, task, splits, data.class_names, origin)  # type: ignore[arg-type]


def test_every_row_of_train_and_train_dev_is_held_out_once_and_classes_keep_their_shares() -> None:
    made = folds.fold_datasets(table(), 4, seed=0)
    held = np.concatenate([d.splits["dev"].x[:, 0] for d in made])
    assert sorted(held.tolist()) == list(range(72))
    for fold in made:
        assert len(fold.splits["dev"]) == 18 and len(fold.train) == 54
        assert np.bincount(fold.splits["dev"].y.astype(int)).tolist() == [6, 6, 6]
        assert not set(fold.train.x[:, 0]) & set(fold.splits["dev"].x[:, 0])
        assert len(fold.splits["train_dev"]) == len(fold.splits["test"]) == 0
    again = folds.fold_datasets(table(), 4, seed=0)
    assert all(np.array_equal(a.splits["dev"].x, b.splits["dev"].x) for a, b in zip(made, again, strict=True))


def test_a_series_validates_each_fold_on_what_follows_its_training_rows() -> None:
    made = folds.fold_datasets(table("regression", origin="by_time"), 3, seed=0)
    assert [len(d.splits["dev"]) for d in made] == [18, 18, 18]
    for fold in made:
        assert fold.train.x[:, 0].max() < fold.splits["dev"].x[:, 0].min()
    assert [d.train.x[:, 0].max() for d in made] == [17, 35, 53]


@pytest.mark.parametrize(("data", "k", "message"), [
    (table(n=6, train_dev=0), 4, "search.cv.folds: 4 folds need at least 8 examples in train + train-dev, but "
                                 "tiny has 6. Received: search.cv.folds=4"),
    (table(n=30, train_dev=0), 11, "search.cv.folds: stratified folds need at least 11 examples of each class "
                                   "in train + train-dev, but class 'a' has 10; use fewer folds. "
                                   "Received: search.cv.folds=11"),
])
def test_data_too_small_for_its_folds_is_refused_before_training(data: Dataset, k: int, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        folds.check(data, k)
    assert str(caught.value) == message


class FakeRun:
    """Scores each fold by its held-out rows' mean feature; records what each call was given."""

    def __init__(self, fail_at: int | None = None, prune_first: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_at, self.prune_first = fail_at, prune_first

    def __call__(self, config: Any, data: Dataset, should_prune: Any, listeners: Any, suggest: Any) -> TrialOutcome:
        self.calls.append({"dev": len(data.splits["dev"]), "prunes": should_prune(1, 0.0), "listeners": listeners})
        if self.fail_at == len(self.calls):
            return TrialOutcome("failed", reason="dev_accuracy is nan")
        if self.prune_first and len(self.calls) == 1:
            return TrialOutcome("pruned", value=0.1, pruned_epoch=1)
        score = float(data.splits["dev"].x[:, 0].mean()) / 100
        return TrialOutcome("complete", value=score, metrics={"dev_accuracy": score})


def test_the_trial_value_is_the_mean_held_out_score_and_the_model_is_refit_on_train() -> None:
    run, listener = FakeRun(), [lambda epoch, metrics: None]
    data = table()
    outcome = folds.cross_validated(run, {}, data, "dev_accuracy", 0, lambda e, v: True, listener, None, 3)
    scores = [float(d.splits["dev"].x[:, 0].mean()) / 100 for d in folds.fold_datasets(data, 3, 0)]
    assert outcome.value == pytest.approx(np.mean(scores))
    assert outcome.metrics["cv_dev_accuracy"] == pytest.approx(np.mean(scores))
    assert outcome.metrics["cv_dev_accuracy_std"] == pytest.approx(np.std(scores, ddof=1))
    assert [outcome.metrics[f"cv_dev_accuracy_fold{i}"] for i in (1, 2, 3)] == pytest.approx(scores)
    assert outcome.metrics["dev_accuracy"] == pytest.approx(np.arange(8).mean() / 100), "the refit's own dev"
    assert outcome.facts == {"cv_folds": 3}
    assert [c["dev"] for c in run.calls] == [24, 24, 24, 8]
    assert [c["prunes"] for c in run.calls] == [True, False, False, False], "only the first fold is pruned"
    assert [c["listeners"] for c in run.calls] == [[], [], [], listener], "only the refit is tracked"


def test_a_pruned_first_fold_or_a_failed_fold_ends_the_trial() -> None:
    pruned = folds.cross_validated(FakeRun(prune_first=True), {}, table(), "dev_accuracy", 0, lambda e, v: True,
                                   [], None, 3)
    assert (pruned.state, pruned.pruned_epoch, pruned.facts) == ("pruned", 1, {"cv_fold": 1})
    run = FakeRun(fail_at=2)
    failed = folds.cross_validated(run, {}, table(), "dev_accuracy", 0, lambda e, v: False, [], None, 3)
    assert (failed.state, failed.reason) == ("failed", "fold 2 of 3: dev_accuracy is nan")
    assert len(run.calls) == 2
    refit = folds.cross_validated(FakeRun(fail_at=4), {}, table(), "dev_accuracy", 0, lambda e, v: False, [],
                                  None, 3)
    assert refit.reason == "refit on all of train: dev_accuracy is nan"
