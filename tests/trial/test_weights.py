"""Class weights: scikit-learn's balanced rule on train, named weights, and the errors (no training)."""

from __future__ import annotations

import numpy as np
import pytest

from autodl.data.dataset import SPLITS, Dataset, Split
from autodl.errors import SpecError
from autodl.trial.weights import class_weights, fit_weights
from tests.helpers import make_dataset


def skewed() -> Dataset:
    """Train: 6 of class "a", 3 of "b", 1 of "c"; nothing of "d"."""
    y = np.array([0] * 6 + [1] * 3 + [2])
    split = Split(np.zeros((10, 2), dtype="float32"), y)
    return Dataset("skewed", "tabular", "multiclass", {name: split for name in SPLITS}, ("a", "b", "c", "d"))


def test_balanced_weighs_each_class_by_its_rarity_on_train() -> None:
    weights = class_weights("balanced", skewed())
    assert weights == pytest.approx({0: 10 / (4 * 6), 1: 10 / (4 * 3), 2: 10 / 4, 3: 1.0})
    from sklearn.utils.class_weight import compute_class_weight

    present = compute_class_weight("balanced", classes=np.array([0, 1, 2]), y=skewed().train.y)
    assert [weights[i] for i in range(3)] == pytest.approx(list(present * 3 / 4))


def test_named_weights_set_their_classes_and_the_rest_weigh_one() -> None:
    assert class_weights({"c": 5.0}, skewed()) == {0: 1.0, 1: 1.0, 2: 5.0, 3: 1.0}
    assert class_weights("none", skewed()) is None
    assert fit_weights({"epochs": 1}, skewed()) == {}
    assert fit_weights({"class_weight": {"a": 2}}, skewed()) == {"class_weight": {0: 2.0, 1: 1.0, 2: 1.0, 3: 1.0}}


def test_an_unknown_label_lists_the_classes() -> None:
    with pytest.raises(SpecError) as caught:
        class_weights({"z": 5.0, "c": 2.0}, skewed())
    assert str(caught.value) == ("training.class_weight: 'z' is not a class of skewed (its classes: a, b, c, d). "
                                 "Received: training.class_weight={'z': 5.0, 'c': 2.0}")


def test_regression_takes_no_class_weights() -> None:
    with pytest.raises(SpecError, match=r"^training.class_weight weighs classes, but tiny is a regression task"):
        class_weights("balanced", make_dataset("tabular", "regression"))


def test_the_spec_accepts_the_three_forms_and_refuses_a_weight_of_zero(write_spec: object) -> None:
    from autodl.spec.document import load_spec
    from tests.helpers import minimal_spec

    for form in ("none", "balanced", {"rare": 3.5}):
        assert load_spec(write_spec(minimal_spec(training={"class_weight": form}))).training.class_weight == form
    with pytest.raises(SpecError, match="training.class_weight"):
        load_spec(write_spec(minimal_spec(training={"class_weight": {"rare": 0}})))
