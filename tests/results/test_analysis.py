"""The error analysis of predictions: confusion, worst examples, and the files it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autodl.data.dataset import Split
from autodl.results import analysis


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
    assert "| 3 | dog | fox | 0.900 | d |" in text and "| cat | 0.500 | 0.500 | 2 |" in text


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
