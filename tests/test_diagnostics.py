"""Bias / variance diagnosis, table-driven, and the error analysis of predictions."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from autodl.data.dataset import Split
from autodl.results import analysis
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


def test_error_analysis_counts_and_worst_examples(tmp_path: Path) -> None:
    names = ("cat", "dog", "fox")
    y = np.array([0, 0, 1, 1, 2, 2])
    outputs = np.array([
        [0.9, 0.05, 0.05], [0.2, 0.7, 0.1],   # a cat called dog (0.7)
        [0.1, 0.8, 0.1], [0.05, 0.05, 0.9],   # a dog called fox (0.9)
        [0.1, 0.1, 0.8], [0.3, 0.6, 0.1],     # a fox called dog (0.6)
    ])
    split = Split(np.array(["a", "b", "c", "d", "e", "f"], dtype=object), y)
    result = analysis.analyze("multiclass", names, split, outputs)
    assert result.confusion.tolist() == [[1, 1, 0], [0, 1, 1], [0, 1, 1]]
    assert result.per_class_error == {"cat": 0.5, "dog": 0.5, "fox": 0.5}
    assert result.worst == [(3, 1, 2, 0.9), (1, 0, 1, 0.7), (5, 2, 1, 0.6)]
    assert result.confused_pairs()[0][2] == 1 and len(result.confused_pairs()) == 3
    text = analysis.markdown(result, split, "text")
    assert "| 3 | dog | fox | 0.900 | d |" in text and "| cat | 0.500 | 2 |" in text


def test_binary_predictions_and_written_files(tmp_path: Path) -> None:
    from autodl.data.dataset import Dataset

    y = np.array([0, 1, 1, 0])
    outputs = np.array([[0.2], [0.4], [0.9], [0.8]])
    predicted, confidence = analysis.predicted_classes("binary", outputs)
    assert predicted.tolist() == [0, 0, 1, 1] and confidence == pytest.approx([0.8, 0.6, 0.9, 0.8])
    images = np.random.default_rng(0).random((4, 6, 6, 1)).astype("float32")
    split = Split(images, y)
    data = Dataset("pics", "image", "binary", {"train": split, "train_dev": split, "dev": split, "test": split},
                   ("no", "yes"))
    history = {"loss": [1.0, 0.5], "dev_loss": [1.1, 0.7], "accuracy": [0.5, 0.8], "dev_accuracy": [0.4, 0.7]}
    result = analysis.write(tmp_path / "analysis", data, outputs, history, "dev_accuracy")
    assert result is not None and result.confusion.tolist() == [[1, 1], [1, 1]]
    for name in ("confusion_matrix.png", "worst_examples.png", "learning_curves.png"):
        assert (tmp_path / "analysis" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert (tmp_path / "analysis" / name).stat().st_size > 5000, name
    text = (tmp_path / "analysis" / "analysis.md").read_text()
    assert "| 1 | yes | no | 0.600 | see worst_examples.png |" in text


def test_a_diagnosis_stored_in_best_json_reads_back() -> None:
    original = diagnose("error = 1 - accuracy", 0.10, 0.11, 0.20, test=0.21)
    stored = json.loads(json.dumps({"verdict": original.verdict, **asdict(original),
                                    "recommendations": original.recommendations()}))
    assert Diagnosis.from_record(stored) == original
    assert Diagnosis.from_record(stored).verdict == "avoidable bias and data mismatch"
