"""The blocks every family shares: input normalization adapted on train only, and the regression
output rescaled to the training targets."""

from __future__ import annotations

import numpy as np
import pytest

from autodl import models
from autodl.data.dataset import Dataset, Split
from autodl.runtime.backend import load_keras
from tests.helpers import dataset_from, family_cfg, layers_of, make_dataset

keras = load_keras()
pytestmark = pytest.mark.usefixtures("fresh_keras")


def test_normalization_is_adapted_on_the_training_split_only() -> None:
    data = make_dataset("tabular", "binary")
    shifted = Split(data.splits["dev"].x + 100.0, data.splits["dev"].y)
    data = Dataset(data.name, data.kind, data.task, {**data.splits, "dev": shifted},
                   data.class_names)
    model = models.build_model(family_cfg("mlp"), data)
    norm = layers_of(model, keras.layers.Normalization)[0]
    np.testing.assert_allclose(np.ravel(norm.mean), data.train.x.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(np.ravel(norm.variance), data.train.x.var(axis=0), rtol=1e-4)


def test_regression_output_is_rescaled_to_the_training_targets() -> None:
    data = make_dataset("tabular", "regression")
    data = dataset_from("tabular", "regression", data.train.x, data.train.y * 50 + 1000)
    model = models.build_model(family_cfg("mlp", layers=1, units=4), data)
    rescale = model.get_layer("output")
    assert isinstance(rescale, keras.layers.Rescaling)
    assert rescale.scale == pytest.approx(float(data.train.y.std()), rel=1e-5)
    assert rescale.offset == pytest.approx(float(data.train.y.mean()), rel=1e-5)
    untrained = np.asarray(model(data.train.x, training=False)).ravel()
    assert abs(untrained.mean() - data.train.y.mean()) < 3 * data.train.y.std()
    assert model.get_layer("standardized_output").units == 1
