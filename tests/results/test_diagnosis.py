"""Bias / variance diagnosis, table-driven, and a diagnosis read back from best.json."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from autodl.results.diagnosis import Diagnosis, diagnose, from_metrics

CASES = [
    # train, train-dev, dev, human, verdict, gaps (bias, variance, mismatch)
    (0.01, 0.09, 0.10, 0.0, "variance", (0.01, 0.08, 0.01)),
    (0.01, 0.015, 0.10, 0.0, "data mismatch", (0.01, 0.005, 0.085)),
    (0.10, 0.11, 0.12, 0.0, "avoidable bias", (0.10, 0.01, 0.01)),
    (0.10, 0.11, 0.20, 0.0, "avoidable bias and data mismatch", (0.10, 0.01, 0.09)),
    (0.08, 0.10, 0.11, 0.075, "variance", (0.005, 0.02, 0.01)),
    (0.002, 0.004, 0.006, 0.0, "no clear problem: every gap is below 0.01", (0.002, 0.002, 0.002)),
]


@pytest.mark.parametrize(("train", "train_dev", "dev", "human", "verdict", "gaps"), CASES)
def test_verdicts(train, train_dev, dev, human, verdict, gaps) -> None:
    result = diagnose("error", train, train_dev, dev, human=human, human_given=human > 0)
    assert result.verdict == verdict
    assert [result.gaps[g] for g in ("avoidable_bias", "variance", "data_mismatch")] == pytest.approx(gaps)


def test_recommendations_follow_the_problems() -> None:
    both = diagnose("error", 0.10, 0.11, 0.20)
    steps = both.recommendations()
    assert steps[0] == "a bigger network (more units, layers or filters)"
    assert "make the training data more like dev (collect or synthesize similar examples)" in steps
    assert "more training data" not in steps
    variance = diagnose("error", 0.01, 0.09, 0.10)
    assert variance.recommendations() == [
        "more training data", "regularization (dropout, L2, early stopping)", "data augmentation",
        "a smaller network",
    ]


def test_overfitting_to_dev_and_missing_train_dev() -> None:
    result = diagnose("error", 0.01, 0.015, 0.02, test=0.08)
    assert result.problems == ["dev_overfitting"]
    assert result.recommendations() == ["a bigger dev set (the search has tuned itself to this one)"]
    no_train_dev = diagnose("error", 0.01, None, 0.09)
    assert set(no_train_dev.gaps) == {"avoidable_bias", "variance"}
    assert no_train_dev.verdict == "variance"


def test_report_says_when_human_error_was_not_given() -> None:
    text = diagnose("error = 1 - accuracy", 0.10, 0.11, 0.12, test=0.125).report()
    assert "# Diagnosis (error = 1 - accuracy)" in text
    assert "| test (final model only) | 0.125 |" in text
    assert "| avoidable bias | +0.1 |" in text
    assert "Human-level error was not given (diagnostics.human_error), so it is taken as 0" in text
    assert "**Verdict:** avoidable bias." in text
    given = diagnose("error", 0.10, 0.11, 0.12, human=0.05, human_given=True).report()
    assert "was not given" not in given and "| human-level | 0.05 |" in given


def test_from_metrics_for_classification_and_regression() -> None:
    classified = from_metrics(
        {"train_accuracy": 0.99, "train_dev_accuracy": 0.91, "dev_accuracy": 0.90, "test_accuracy": 0.9},
        "binary", "dev_accuracy", 0.0, False, None,
    )
    assert (classified.train, classified.train_dev, classified.dev) == pytest.approx((0.01, 0.09, 0.10))
    assert classified.verdict == "variance" and classified.tolerance == 0.01
    regressed = from_metrics(
        {"train_mae": 5.0, "train_dev_mae": 6.0, "dev_mae": 15.0, "train_loss": 40.0, "dev_loss": 300.0},
        "regression", "dev_mae", 2.0, True, None,
    )
    assert regressed.metric == "mae" and regressed.tolerance == pytest.approx(0.3)
    assert regressed.gaps == pytest.approx({"avoidable_bias": 3.0, "variance": 1.0, "data_mismatch": 9.0})
    assert regressed.verdict == "data mismatch"


def test_a_diagnosis_stored_in_best_json_reads_back() -> None:
    original = diagnose("error = 1 - accuracy", 0.10, 0.11, 0.20, test=0.21)
    stored = json.loads(json.dumps({"verdict": original.verdict, **asdict(original),
                                    "recommendations": original.recommendations()}))
    assert Diagnosis.from_record(stored) == original
    assert Diagnosis.from_record(stored).verdict == "avoidable bias and data mismatch"
