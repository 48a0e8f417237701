"""Errors with their sample size and standard error, and what a split of a given size can resolve.

An error rate p measured on n examples has a standard error of about sqrt(p (1 - p) / n), taken in
Agresti and Coull's form (two errors and two right answers added) so that 0 errors in 18 examples
is not read as an exact 0; a mean
absolute or root-mean-square error gets its standard error from a bootstrap over the examples.
The gap between two independent splits has the standard error sqrt(se_a^2 + se_b^2); a gap is
told from noise only when it is more than ``Z`` of those and more than an absolute floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from autodl.data import feed
from autodl.data.dataset import Dataset

Z = 2.0
"""Standard errors of the difference a gap must exceed to count (about 95% two-sided)."""
BOOTSTRAP_SAMPLES = 500
BOOTSTRAP_MAX_N = 5_000
"""Above this many examples a mean's standard error is its normal approximation (std / sqrt(n),
the delta method for rmse): as exact there as a bootstrap, without its (samples, n) draws."""
ERROR_RATE = "error = 1 - accuracy"
"""The diagnosis metric of classification; regression uses the objective's own metric."""


@dataclass(frozen=True)
class SplitError:
    """One split's error: its value, the number of examples it was measured on, its standard error."""

    name: str
    error: float
    n: int
    se: float

    def interval(self) -> tuple[float, float]:
        """The error plus or minus ``Z`` standard errors."""
        return self.error - Z * self.se, self.error + Z * self.se


def binomial_se(p: float, n: int) -> float:
    """The standard error of an error rate ``p`` measured on ``n`` examples (0 for ``n == 0``):
    sqrt(q (1 - q) / (n + 4)) with q = (p n + 2) / (n + 4), Agresti and Coull's adjusted rate,
    which is sqrt(p (1 - p) / n) on large splits and stays above 0 at 0 or n errors."""
    if n <= 0:
        return 0.0
    p = min(max(p, 0.0), 1.0)
    adjusted = (p * n + 2.0) / (n + 4.0)
    return math.sqrt(adjusted * (1.0 - adjusted) / (n + 4.0))


def bootstrap_se(values: np.ndarray, metric: str, seed: int = 0, samples: int = BOOTSTRAP_SAMPLES) -> float:
    """The bootstrap standard error of ``metric`` (``mae``, ``rmse`` or the mean ``loss``) over the
    per-example ``values`` (absolute errors for mae, squared errors for rmse and loss); on large
    splits the normal approximation."""
    n = len(values)
    if n < 2:
        return 0.0
    if n > BOOTSTRAP_MAX_N:
        se_mean = float(np.std(values, ddof=1)) / math.sqrt(n)
        mean = float(np.mean(values))
        return se_mean / (2 * math.sqrt(mean)) if metric == "rmse" and mean > 0 else se_mean
    rng = np.random.default_rng(seed)
    draws = values[rng.integers(0, n, size=(samples, n))].mean(axis=1)
    if metric == "rmse":
        draws = np.sqrt(draws)
    return float(draws.std(ddof=1))


def per_example(task: str, metric: str, y_true: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """What each example contributes to the split's error: 1.0 for a wrong class (classification),
    the absolute error (``mae``) or the squared error (``rmse``, ``loss``) for regression."""
    if task == "binary":
        predicted = (np.asarray(outputs).reshape(-1) >= 0.5).astype(int)
        return (predicted != np.asarray(y_true).astype(int)).astype(float)
    if task == "multiclass":
        return (np.asarray(outputs).argmax(axis=1) != np.asarray(y_true).astype(int)).astype(float)
    residual = np.asarray(outputs, dtype="float64").reshape(len(y_true), -1) - np.asarray(
        y_true, dtype="float64").reshape(len(y_true), -1)
    per = np.abs(residual) if metric == "mae" else residual**2
    return per.mean(axis=1)


def split_error(name: str, task: str, metric: str, contributions: np.ndarray, seed: int = 0) -> SplitError:
    """The error of one split from its per-example contributions (see ``per_example``)."""
    n = len(contributions)
    if n == 0:
        return SplitError(name, math.nan, 0, math.nan)
    mean = float(np.mean(contributions))
    if task in ("binary", "multiclass"):
        return SplitError(name, mean, n, binomial_se(mean, n))
    value = math.sqrt(mean) if metric == "rmse" else mean
    return SplitError(name, value, n, bootstrap_se(contributions, metric, seed))


def diagnosis_metric(task: str, objective: str) -> str:
    """The metric a diagnosis reads errors in: the error rate for classification, the objective's
    own metric (``mae``, ``rmse``, ``loss``) for regression."""
    return ERROR_RATE if task in ("binary", "multiclass") else objective.removeprefix("dev_")


def measure_errors(
    model: Any, data: Dataset, metric: str, batch_size: int,
    names: tuple[str, ...] = ("train", "train_dev", "dev", "test"), seed: int = 0,
) -> dict[str, SplitError]:
    """Each named non-empty split's error under ``model``, from one prediction pass per split."""
    found: dict[str, SplitError] = {}
    for name in names:
        split = data.splits[name]
        if len(split) == 0:
            continue
        outputs = np.asarray(model.predict(**feed.predict_inputs(split, batch_size), verbose=0))
        contributions = per_example(data.task, metric, split.y, outputs)
        found[name] = split_error(name, data.task, metric, contributions, seed)
    return found


def from_rate(name: str, error: float, n: int) -> SplitError:
    """A classification error rate known only as a number on ``n`` examples."""
    return SplitError(name, error, n, binomial_se(error, n))


def gap_se(a: SplitError | None, b: SplitError | None) -> float:
    """The standard error of the difference of two independent splits' errors (a missing or
    given reference, such as human-level error, adds none); nan when either's is unknown."""
    return math.sqrt(sum(s.se**2 for s in (a, b) if s is not None))


def resolvable(se: float, floor: float) -> float:
    """The smallest gap that can be told from noise with this standard error of the difference."""
    return max(Z * se, floor)


def examples_needed(gap: float, a: SplitError, b: SplitError | None) -> int | None:
    """About how many examples per split would make a gap of ``gap`` stand ``Z`` standard errors
    clear of noise, at the errors measured now (``None`` for a gap of 0).

    With per-example variances v_a and v_b (se^2 times n), the difference's standard error on n
    examples each is sqrt((v_a + v_b) / n); it is below gap / Z once n > Z^2 (v_a + v_b) / gap^2.
    """
    if gap <= 0 or not math.isfinite(gap):
        return None
    variance = sum(s.se**2 * s.n for s in (a, b) if s is not None and s.n > 0 and math.isfinite(s.se))
    if variance <= 0:
        return None
    return math.ceil(Z**2 * variance / gap**2)
