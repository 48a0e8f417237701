"""What a search's networks are measured against: a trivial and a classical baseline, scored on the
same splits with the same error (``uncertainty.per_example`` and ``split_error``).

The trivial baselines read only labels (and, for a series, the last value of each window): the
majority training class, the mean training target, the last value. The classical baseline is a
scikit-learn linear model fitted on the train split only: logistic or ridge regression on the
standardized, flattened inputs, or on TF-IDF bag-of-words for text. Its cost is bounded (at most
``max_rows`` training rows, at most ``MAX_CELLS`` input values, ``MAX_ITER`` solver iterations) and
a time budget is checked before it starts; a baseline that cannot run is skipped with one
sentence saying why, never with a traceback.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from autodl.data.dataset import SPLITS, Dataset, Split
from autodl.errors import first_line
from autodl.results.uncertainty import SplitError, per_example, split_error

REGRESSION_METRICS = ("mae", "rmse", "loss")
MAX_CELLS = 10_000_000
"""At most this many input values (rows times features) go into a classical fit."""
MIN_ROWS = 100
"""A classical fit that ``MAX_CELLS`` would leave with fewer training rows than this is skipped."""
MAX_ITER = 300
"""Solver iterations of logistic regression: enough for digits and text to converge in well under a second."""
TFIDF_FEATURES = 20_000
"""The TF-IDF vocabulary keeps at most this many of the most frequent training words."""
CHUNK_ROWS = 4096
"""Rows flattened and predicted at a time, so a large split is never copied whole."""

Predict = Callable[[np.ndarray], np.ndarray]
"""A fitted model: a block of a split's inputs to outputs shaped like the network's head."""


class Skip(Exception):
    """A baseline that does not fit this data; the message is the reason, as the user reads it."""


@dataclass(frozen=True)
class BaselineScore:
    """One baseline's error on every non-empty split, and the seconds it took to fit and score."""

    name: str
    kind: str
    description: str
    errors: dict[str, SplitError]
    seconds: float

    def to_record(self) -> dict[str, Any]:
        """JSON-ready: the fields, each split's error as ``{"error", "n", "se"}``."""
        return {
            "name": self.name, "kind": self.kind, "description": self.description,
            "seconds": self.seconds,
            "errors": {s: {"error": e.error, "n": e.n, "se": e.se} for s, e in self.errors.items()},
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> BaselineScore:
        """The score ``to_record`` wrote."""
        errors = {s: SplitError(s, float(e["error"]), int(e["n"]), float(e["se"]))
                  for s, e in record["errors"].items()}
        return cls(record["name"], record["kind"], record["description"], errors, float(record["seconds"]))


@dataclass(frozen=True)
class Baselines:
    """The baselines scored for a search, and those skipped with the reason."""

    scores: list[BaselineScore]
    skipped: dict[str, str]

    def best(self, split: str = "dev") -> BaselineScore | None:
        """The baseline with the lowest error on ``split`` (``None`` when none was scored there)."""
        scored = [s for s in self.scores if split in s.errors and math.isfinite(s.errors[split].error)]
        return min(scored, key=lambda s: s.errors[split].error, default=None)

    def to_record(self) -> dict[str, Any]:
        """JSON-ready, for ``best.json``: the scores with each split's error, n and se; the skipped."""
        return {"scores": [s.to_record() for s in self.scores], "skipped": dict(self.skipped)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Baselines:
        """The baselines ``to_record`` wrote."""
        return cls([BaselineScore.from_record(s) for s in record["scores"]], dict(record["skipped"]))


def score_baselines(data: Dataset, metric: str, seed: int, budget_s: float = 30.0,
                    max_rows: int = 20_000) -> Baselines:
    """Score the trivial and the classical baselines of ``data`` on all its non-empty splits.

    ``metric`` is the diagnosis metric: ignored for classification (always the error rate), and
    ``mae``, ``rmse`` or ``loss`` (mean squared error) for regression. ``seed`` draws the training
    subsample and the bootstrap of regression errors.

    A regression on ``kind == "sequence"`` whose steps hold one value each (``x`` shaped
    ``(n, window)`` or ``(n, window, 1)``) and whose target is one value is taken as a time series
    window (``SeriesData.windows`` gives nothing more specific to recognise) and also gets the
    ``last_value`` baseline, whatever the horizon.

    The trivial baselines always run (milliseconds). The classical one is skipped when the splits
    are streamed (no examples in memory), when the trivial ones already spent ``budget_s``, or
    when its fit raises.
    """
    if data.task == "regression" and metric not in REGRESSION_METRICS:
        raise ValueError(f"A regression baseline is scored by one of {REGRESSION_METRICS}, not {metric!r}.")
    start = time.perf_counter()
    splits = {name: data.splits[name] for name in SPLITS if name in data.splits and len(data.splits[name])}
    scores: list[BaselineScore] = []
    skipped: dict[str, str] = {}

    def score(name: str, kind: str, fit: Callable[[], tuple[str, Predict]]) -> None:
        began = time.perf_counter()
        try:
            description, predict = fit()
            errors = {s: _split_error(s, data.task, metric, split, predict, seed) for s, split in splits.items()}
        except Skip as exc:
            skipped[name] = str(exc)
            return
        except Exception as exc:  # any failure of a baseline only skips it
            skipped[name] = f"{type(exc).__name__}: {first_line(exc)}"
            return
        scores.append(BaselineScore(name, kind, description, errors, time.perf_counter() - began))

    for name, fit in _trivial(data):
        score(name, "trivial", fit)
    name = _classical_name(data)
    if any(s.stream is not None for s in splits.values()):
        skipped[name] = ("the examples are streamed from files rather than held in memory, so there are "
                         "none to fit a classical model on without reading them all")
    elif time.perf_counter() - start >= budget_s:
        skipped[name] = f"the baselines' time budget of {budget_s:g} s was spent before it could start"
    else:
        score(name, "classical", lambda: _classical(data, seed, max_rows))
    return Baselines(scores, skipped)


def _split_error(name: str, task: str, metric: str, split: Split, predict: Predict, seed: int) -> SplitError:
    """One split's error from the baseline's outputs, predicted ``CHUNK_ROWS`` at a time."""
    outputs = np.concatenate([predict(split.x[i: i + CHUNK_ROWS]) for i in range(0, len(split), CHUNK_ROWS)])
    return split_error(name, task, metric, per_example(task, _per_example_metric(task, metric), split.y, outputs), seed)


def _per_example_metric(task: str, metric: str) -> str:
    return metric if task == "regression" else "accuracy"


# --- trivial ------------------------------------------------------------------------------------


def _trivial(data: Dataset) -> list[tuple[str, Callable[[], tuple[str, Predict]]]]:
    """The trivial baselines of this task, as (name, fit)."""
    if data.task != "regression":
        return [("majority", lambda: _majority(data))]
    if _is_series(data):
        return [("mean", lambda: _mean(data)), ("last_value", _last_value)]
    return [("mean", lambda: _mean(data))]


def _is_series(data: Dataset) -> bool:
    """A regression on windows of one value per step, to one target (see ``score_baselines``)."""
    x, y = data.train.x, data.train.y
    steps_hold_one = x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 1)
    return (data.kind == "sequence" and data.task == "regression" and data.train.stream is None
            and steps_hold_one and int(np.prod(y.shape[1:])) == 1)


def _majority(data: Dataset) -> tuple[str, Predict]:
    """Always the most frequent training class, as one-hot probabilities (binary: P(class 1))."""
    labels = data.train.y.astype(int)
    classes = max(data.num_classes, int(labels.max()) + 1)
    counts = np.bincount(labels, minlength=classes)
    top = int(counts.argmax())
    label = data.class_names[top] if top < data.num_classes else str(top)
    description = (f"always predicts the most frequent training class ({label}, "
                   f"{counts[top] / len(labels):.0%} of train)")
    if data.task == "binary":
        return description, lambda x: np.full(len(x), float(top))
    one_hot = np.eye(classes)[top]
    return description, lambda x: np.tile(one_hot, (len(x), 1))


def _mean(data: Dataset) -> tuple[str, Predict]:
    """Always the mean training target (per output)."""
    mean = np.asarray(data.train.y, dtype="float64").mean(axis=0)
    shown = ", ".join(f"{v:.4g}" for v in np.ravel(mean))
    return f"always predicts the mean training target ({shown})", lambda x: np.tile(mean, (len(x), 1))


def _last_value() -> tuple[str, Predict]:
    """Each window's last value: tomorrow is like today."""
    return ("predicts the last value of each window (persistence)",
            lambda x: np.asarray(x, dtype="float64").reshape(len(x), -1)[:, -1])


# --- classical ----------------------------------------------------------------------------------


def _classical_name(data: Dataset) -> str:
    model = "ridge" if data.task == "regression" else "logistic_regression"
    return f"tfidf_{model}" if data.kind == "text" else model


def _classical(data: Dataset, seed: int, max_rows: int) -> tuple[str, Predict]:
    """Fit logistic / ridge regression on (a seeded subsample of) the train split only."""
    from sklearn.linear_model import LogisticRegression, Ridge

    train = data.train
    model: Any = Ridge(alpha=1.0) if data.task == "regression" else LogisticRegression(C=1.0, max_iter=MAX_ITER)
    what = "ridge regression (alpha=1)" if data.task == "regression" else "logistic regression (C=1)"
    if data.kind == "text":
        from sklearn.feature_extraction.text import TfidfVectorizer

        rows = _subsample(len(train), max_rows, seed)
        vectorizer = TfidfVectorizer(max_features=TFIDF_FEATURES)
        features = vectorizer.fit_transform(train.x[rows].astype(str))
        _fit(model, features, train.y[rows])
        description = (f"{what} on TF-IDF bag-of-words ({len(vectorizer.vocabulary_):,} words), "
                       f"fitted on {len(rows):,} training examples")
        return description, _predictor(data, model, lambda x: vectorizer.transform(x.astype(str)))
    from sklearn.preprocessing import StandardScaler

    width = int(np.prod(train.x.shape[1:]))
    cap = MAX_CELLS // width
    if cap < min(MIN_ROWS, len(train)):
        raise Skip(f"each example has {width:,} input values, so at most {cap} training rows fit in the "
                   f"baselines' cap of {MAX_CELLS:,} values, too few to fit on")
    rows = _subsample(len(train), min(max_rows, cap), seed)
    scaler = StandardScaler()
    _fit(model, scaler.fit_transform(_flat(train.x[rows])), train.y[rows])
    description = (f"{what} on the {width:,} standardized input values, fitted on "
                   f"{len(rows):,} training examples")
    return description, _predictor(data, model, lambda x: scaler.transform(_flat(x)))


def _fit(model: Any, features: Any, y: np.ndarray) -> None:
    """Fit quietly: a fit stopped at ``MAX_ITER`` before converging still counts as a baseline."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features, y)


def _subsample(n: int, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` of ``n`` row indices, drawn with ``seed``, in order."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def _flat(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype="float32").reshape(len(x), -1)


def _predictor(data: Dataset, model: Any, features: Callable[[np.ndarray], Any]) -> Predict:
    """The fitted model's outputs shaped like the network's head: regression values, P(class 1)
    for binary, ``(n, k)`` class probabilities for multiclass (0 for classes absent from train)."""
    if data.task == "regression":
        return lambda x: np.asarray(model.predict(features(x)), dtype="float64")
    known = np.asarray(model.classes_).astype(int)
    classes = max(data.num_classes, int(known.max()) + 1)

    def probabilities(x: np.ndarray) -> np.ndarray:
        full = np.zeros((len(x), classes))
        full[:, known] = model.predict_proba(features(x))
        return full[:, 1] if data.task == "binary" else full

    return probabilities
