"""Learning curves: would more data help?

The best configuration is retrained on growing shares of train (25%, 50% and 100% by default,
each with its own seed) and its train and dev errors, with their standard errors, are set against
the training-set size. Dev error still falling clearly with more data is variance (more data
helps); dev error that has stopped improving and met the train error is bias (more data will not
help).
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from autodl import models
from autodl.data.dataset import Dataset, Split
from autodl.errors import AutodlError, DataError
from autodl.results.record import BestRecord
from autodl.results.uncertainty import ERROR_RATE, SplitError, Z, gap_se, measure_errors
from autodl.runtime.backend import pyplot
from autodl.runtime.log import logger
from autodl.spec import Spec
from autodl.trial import run_trial

SHARES = (0.25, 0.5, 1.0)
"""The shares of train the best configuration is retrained on, smallest first."""
CURVE_FILE = "learning_curve.png"
"""The plot's file name in the best-model folder."""
LOG_SPAN = 4.0
"""The x axis is logarithmic when the largest training set is more than this many times the smallest."""

Fit = Callable[[Dataset, int], Any]
"""Trains a model on the dataset's train split with a seed and returns it (anything with Keras's
``predict``)."""


@dataclass(frozen=True)
class CurvePoint:
    """One training-set size: the share of train, its number of examples, the seed it was drawn
    and trained with, and the errors on the examples it trained on and on dev."""

    share: float
    n_train: int
    seed: int
    train: SplitError
    dev: SplitError


@dataclass(frozen=True)
class LearningCurve:
    """Train and dev error at growing training-set sizes, in one metric."""

    metric: str
    points: list[CurvePoint]

    def trend(self) -> str:
        """Whether dev error is still falling with more data: ``falling``, ``flat`` or ``unclear``.

        With ``prev`` and ``last`` the dev errors at the two largest shares and ``train`` the train
        error at the largest (``Z`` = 2 standard errors, independent errors' standard errors
        combined as sqrt(se_a^2 + se_b^2)):

        - ``falling`` (variance: more data helps) when
          ``prev.error - last.error > Z * sqrt(prev.se^2 + last.se^2)`` and dev is still clearly
          above train at the largest share: with a fixed number of epochs a larger share also
          means more steps, and a dev error that falls together with the train error is a model
          still under-trained, not one short of data;
        - ``flat`` (bias: more data will not help) when
          ``last.error - train.error <= Z * sqrt(last.se^2 + train.se^2)``: dev has met the train
          error (whether or not both still fall with more steps);
        - ``unclear`` otherwise: dev is not falling but stays clearly above train (more
          data of this kind may help little; regularization or another model is the lever), or
          fewer than two sizes were measured.
        """
        if len(self.points) < 2:
            return "unclear"
        last = self.points[-1]
        if last.dev.error - last.train.error <= Z * gap_se(last.dev, last.train):
            return "flat"
        drop, noise = self._dev_drop()
        return "falling" if drop > noise else "unclear"

    def _dev_drop(self) -> tuple[float, float]:
        """How much dev error fell between the two largest shares, and ``Z`` standard errors of it."""
        prev, last = self.points[-2].dev, self.points[-1].dev
        return prev.error - last.error, Z * gap_se(prev, last)

    def reading(self) -> str:
        """The trend in plain words, with the errors, their 2-standard-error margins and sizes."""
        if not self.points:
            return "No learning curve was measured."
        last = self.points[-1]
        if len(self.points) < 2:
            return (
                f"Only one training-set size was measured (n={last.n_train}): dev error "
                f"{self._value(last.dev)}, train error {self._value(last.train)}; at least two "
                "sizes are needed to tell whether more data would help."
            )
        prev = self.points[-2]
        drop, noise = self._dev_drop()
        verb, within = ("fell", "") if drop > noise else ("rose", "") if drop < -noise else (
            "went", ", a change within noise,")
        change = (
            f"Dev error {verb} from {self._value(prev.dev)} (n={prev.n_train} training examples) to "
            f"{self._value(last.dev)} (n={last.n_train}; ± is 2 standard errors){within}"
        )
        trend = self.trend()
        if trend == "falling":
            return f"{change}: still falling, so more training data should help (variance)."
        if trend == "flat":
            steps = (" Both still fall with the share, which at a fixed number of epochs means more "
                     "training steps: train longer (`training.epochs`) before collecting data."
                     if drop > noise else "")
            return (
                f"{change} and has met the train error {self._value(last.train)}: flat, so more "
                "training data of this kind will not help (bias); a bigger or different model, or "
                f"better features, is the lever.{steps}"
            )
        gap = self._number(last.dev.error - last.train.error)
        return (
            f"{change} but stays {gap} above the train error {self._value(last.train)}: not "
            "improving, so more data of this kind may help little; regularization or a different "
            "model is the lever."
        )

    def _number(self, value: float) -> str:
        """An error in this curve's metric: three decimals for an error rate, four digits else."""
        return f"{value:.3f}" if self.metric == ERROR_RATE else f"{value:.4g}"

    def _value(self, error: SplitError) -> str:
        return f"{self._number(error.error)} ± {self._number(Z * error.se)}"

    def to_record(self) -> dict[str, Any]:
        """The curve as ``best.json`` stores it: the metric, each point, the trend and its reading."""
        return {
            "metric": self.metric,
            "points": [asdict(point) for point in self.points],
            "trend": self.trend(),
            "reading": self.reading(),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> LearningCurve:
        """The curve ``to_record`` stored (the trend and reading are derived again)."""
        points = [
            CurvePoint(
                share=float(p["share"]), n_train=int(p["n_train"]), seed=int(p["seed"]),
                train=SplitError(**p["train"]), dev=SplitError(**p["dev"]),
            )
            for p in record["points"]
        ]
        return cls(record["metric"], points)


def subsample(data: Dataset, share: float, seed: int) -> Dataset:
    """``data`` with its train split cut to ``share`` of its examples; other splits unchanged.

    Classification draws each class's part with ``seed`` so that every class stays (in the
    split's order, so a streamed table is still read front to back). Data split in time (a
    series' windows, ``origin == "by_time"``) keeps its last ``share`` of windows, the ones
    closest to dev; other regression draws with ``seed``. A share of 1 returns ``data`` itself.
    """
    if not 0 < share <= 1:
        raise AutodlError(f"A learning curve's share of train must be in (0, 1]. Received: share={share!r}")
    if share == 1:
        return data
    train = data.train
    n = len(train)
    count = max(1, round(share * n))
    if data.task != "regression":
        keep = _stratified(train.y, count, np.random.default_rng(seed))
    elif data.origin == "by_time":
        keep = np.arange(n - count, n)
    else:
        keep = np.sort(np.random.default_rng(seed).permutation(n)[:count])
    return replace(data, splits={**data.splits, "train": Split(train.x[keep], train.y[keep], train.stream)})


def _stratified(y: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of about ``count`` examples of ``y``, each class in proportion and at least once.

    Each class gets the floor of its proportional quota (at least one); the examples still
    missing go to the classes furthest below their quota, and any excess (from rare classes kept
    at one) comes off the classes furthest above it. With more classes than ``count``, one each.
    """
    classes, counts = np.unique(y, return_counts=True)
    total = max(count, len(classes))
    quota = counts * total / len(y)
    sizes = np.maximum(1, np.floor(quota)).astype(int)
    while sizes.sum() < total:
        short = np.where(sizes < counts, quota - sizes, -np.inf)
        sizes[int(np.argmax(short))] += 1
    while sizes.sum() > total:
        over = np.where(sizes > 1, sizes - quota, -np.inf)
        sizes[int(np.argmax(over))] -= 1
    picked = [rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c, k in zip(classes, sizes, strict=True)]
    return np.sort(np.concatenate(picked))


def share_seed(seed: int, share: float) -> int:
    """The seed a share is drawn and trained with, derived from the curve's seed."""
    return zlib.crc32(f"{seed}:{share}".encode()) % (2**31)


def learning_curve(
    data: Dataset, fit: Fit, metric: str, batch_size: int, shares: Sequence[float] = SHARES,
    seed: int = 0,
) -> LearningCurve:
    """Fit on each share of train (smallest first) and measure train (the examples it trained on)
    and dev error; ``metric`` is the diagnosis metric (``uncertainty.diagnosis_metric``)."""
    if not shares:
        raise AutodlError("A learning curve needs at least one share of train.")
    if not len(data.splits["dev"]):
        raise DataError(f"{data.name}: a learning curve measures dev error, but the dev split is empty.")
    points = []
    for share in sorted(set(shares)):
        point_seed = share_seed(seed, share)
        part = subsample(data, share, point_seed)
        logger.info("learning curve: training on %d examples (%g of train)", len(part.train), share)
        model = fit(part, point_seed)
        errors = measure_errors(model, part, metric, batch_size, names=("train", "dev"))
        del model  # run_trial's clean start (the next fit) needs the earlier model unreferenced
        points.append(CurvePoint(share, len(part.train), point_seed, errors["train"], errors["dev"]))
    return LearningCurve(metric, points)


def best_trial_fit(spec: Spec, record: BestRecord) -> Fit:
    """Training of the record's configuration as its trial trained (its builder, optimizer,
    schedule, epochs and early stopping; a custom ``build(hp)`` replays its hyperparameters),
    without pruning. A failed training (e.g. NaN loss) raises ``AutodlError`` with the reason."""
    config = copy.deepcopy(record["config"])
    params = record.get("hyperparameters", {})
    build = models.builder(spec.model, spec.base_dir)
    objective = spec.search.objective.metric

    def fit(data: Dataset, seed: int) -> Any:
        outcome = run_trial(
            config, data, objective, seed, lambda epoch, value: False, [], build,
            lambda name, dist: params[name], spec.runtime.xla,
        )
        if outcome.model is None:
            raise AutodlError(
                f"Learning curve: training trial {record.get('trial')}'s configuration on "
                f"{len(data.train)} examples failed: {outcome.reason}."
            )
        return outcome.model

    return fit


def plot_learning_curve(curve: LearningCurve, path: Path) -> None:
    """Train and dev error against the number of training examples, with error bars of 2
    standard errors; the x axis is logarithmic when the sizes span more than ``LOG_SPAN``."""
    plt = pyplot()
    sizes = [p.n_train for p in curve.points]
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, errors in (("train", [p.train for p in curve.points]), ("dev", [p.dev for p in curve.points])):
        ax.errorbar(sizes, [e.error for e in errors], yerr=[Z * e.se for e in errors], marker="o",
                    capsize=4, label=f"{name} error")
    if sizes and sizes[-1] > LOG_SPAN * sizes[0]:
        ax.set_xscale("log")
    ax.set_xticks(sizes, labels=[str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training examples")
    ax.set_ylabel(curve.metric)
    ax.set_title(f"Learning curve: dev error {curve.trend()} (bars: 2 standard errors)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
