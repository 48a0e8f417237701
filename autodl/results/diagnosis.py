"""Bias / variance diagnosis of a model from its errors on train, train-dev, dev and test.

    avoidable bias  = train - human          (fit the training data better)
    variance        = train-dev - train      (generalize to unseen data of the same kind)
    data mismatch   = dev - train-dev        (dev data differs from the training data)
    overfitting dev = test - dev             (the search has tuned itself to dev)

The largest gaps, above a tolerance, are the problems; each comes with the usual remedies.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from autodl.errors import AutodlError

LABELS = {
    "avoidable_bias": "avoidable bias",
    "variance": "variance",
    "data_mismatch": "data mismatch",
    "dev_overfitting": "overfitting to dev",
}
REMEDIES = {
    "avoidable_bias": [
        "a bigger network (more units, layers or filters)",
        "train longer (more epochs, less early stopping)",
        "a better optimizer or learning rate (Adam; search the rate on a log scale)",
        "another architecture (e.g. CNN instead of MLP for images, bidirectional RNN for text)",
    ],
    "variance": [
        "more training data",
        "regularization (dropout, L2, early stopping)",
        "data augmentation",
        "a smaller network",
    ],
    "data_mismatch": [
        "error analysis: read the dev examples the model gets wrong (see the analysis artifacts)",
        "make the training data more like dev (collect or synthesize similar examples)",
    ],
    "dev_overfitting": [
        "a bigger dev set (the search has tuned itself to this one)",
    ],
}
SHARE_OF_LARGEST = 0.5


@dataclass(frozen=True)
class Diagnosis:
    """The errors, the gaps between them, and which gaps are problems."""

    metric: str
    human: float
    train: float
    train_dev: float | None
    dev: float
    test: float | None
    human_given: bool
    tolerance: float
    gaps: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_record(cls, stored: dict[str, Any]) -> Diagnosis:
        """The diagnosis as ``best.json`` stores it (its fields, plus verdict and next steps)."""
        return cls(**{f.name: stored[f.name] for f in fields(cls)})

    @property
    def verdict(self) -> str:
        """The problems in words, largest first, or that none stands out."""
        if not self.problems:
            return f"no clear problem: every gap is below {self.tolerance:.4g}"
        return " and ".join(LABELS[p] for p in self.problems)

    def recommendations(self) -> list[str]:
        """The remedies for each problem, in the order of the problems."""
        return [step for problem in self.problems for step in REMEDIES[problem]]

    def metrics(self) -> dict[str, float]:
        """Errors and gaps as flat metrics for MLflow."""
        values = {"human_error": self.human, "train_error": self.train, "dev_error": self.dev}
        if self.train_dev is not None:
            values["train_dev_error"] = self.train_dev
        if self.test is not None:
            values["test_error"] = self.test
        values.update(self.gaps)
        return values

    def report(self) -> str:
        """A readable report (Markdown) of the errors, the gaps, the verdict and the next steps."""
        rows = [("human-level", self.human), ("train", self.train), ("train-dev", self.train_dev),
                ("dev", self.dev), ("test (final model only)", self.test)]
        lines = [f"# Diagnosis ({self.metric})", "", "| split | error |", "| --- | --- |"]
        lines += [f"| {name} | {value:.4g} |" for name, value in rows if value is not None]
        lines += ["", "| gap | size |", "| --- | --- |"]
        lines += [f"| {LABELS[g]} | {v:+.4g} |" for g, v in self.gaps.items()]
        human = "" if self.human_given else (
            " Human-level error was not given (diagnostics.human_error), so it is taken as 0 and "
            "the avoidable bias is the whole training error."
        )
        lines += ["", f"**Verdict:** {self.verdict}.{human}"]
        if self.problems:
            lines += ["", "**Next steps:**", *(f"- {step}" for step in self.recommendations())]
        return "\n".join(lines) + "\n"


def diagnose(
    metric: str,
    train: float,
    train_dev: float | None,
    dev: float,
    test: float | None = None,
    human: float = 0.0,
    human_given: bool = False,
    tolerance: float = 0.01,
) -> Diagnosis:
    """Compare the errors. A gap is a problem when it is at least ``tolerance`` and at least half
    of the largest gap; without a train-dev split, variance and mismatch cannot be told apart and
    the whole train-to-dev gap counts as variance."""
    gaps = {"avoidable_bias": train - human}
    if train_dev is None:
        gaps["variance"] = dev - train
    else:
        gaps["variance"] = train_dev - train
        gaps["data_mismatch"] = dev - train_dev
    if test is not None:
        gaps["dev_overfitting"] = test - dev
    largest = max(gaps.values())
    problems = sorted(
        (g for g, v in gaps.items() if v >= tolerance and v >= SHARE_OF_LARGEST * largest),
        key=lambda g: -gaps[g],
    )
    return Diagnosis(metric, human, train, train_dev, dev, test, human_given, tolerance, gaps, problems)


def from_metrics(
    metrics: dict[str, float], task: str, objective: str, human: float, human_given: bool,
    tolerance: float | None,
) -> Diagnosis:
    """The diagnosis of a best-model record: classification error is 1 - accuracy; regression
    uses the objective's metric (MAE, RMSE or loss)."""
    if task == "regression":
        name = objective.removeprefix("dev_")

        def error(split: str) -> float | None:
            value = metrics.get(f"{split}_{name}")
            return None if value is None else float(value)

        label = name
    else:
        def error(split: str) -> float | None:
            value = metrics.get(f"{split}_accuracy")
            return None if value is None else 1.0 - float(value)

        label = "error = 1 - accuracy"
    train, dev = error("train"), error("dev")
    if train is None or dev is None:
        missing = " and ".join(s for s, v in (("train", train), ("dev", dev)) if v is None)
        raise AutodlError(
            f"Cannot diagnose the best model: its record has no {missing} measurement ({label}; it "
            f"holds {', '.join(sorted(metrics)) or 'nothing'}). Run the search again to measure it."
        )
    if tolerance is None:
        tolerance = 0.02 * dev if task == "regression" else 0.01
    return diagnose(label, train, error("train_dev"), dev, error("test"), human, human_given, tolerance)
