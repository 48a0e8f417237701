"""The scores computed from predictions outside Keras (F1, multiclass AUC)."""

from __future__ import annotations

import numpy as np
import pytest

from autodl.trial.measure import scores


def test_binary_f1_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([[0.9], [0.2], [0.7], [0.1], [0.6]])
    # predicted 1, 0, 1, 0, 1: tp 2, fp 1, fn 1 -> precision 2/3, recall 2/3, f1 2/3
    assert scores("binary", y, p) == {"f1": pytest.approx(2 / 3)}


def test_multiclass_macro_f1_and_auc() -> None:
    y = np.array([0, 1, 2, 2])
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    result = scores("multiclass", y, p)
    # predicted 0, 1, 2, 0: class f1 = 2/3, 1, 2/3 -> macro 7/9
    assert result["f1"] == pytest.approx(7 / 9)
    assert 0.5 < result["auc"] <= 1.0


def test_multiclass_auc_needs_every_class_present() -> None:
    y = np.array([0, 1, 1])
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    assert set(scores("multiclass", y, p)) == {"f1"}
