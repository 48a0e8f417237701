"""The MLP family on tiny tables, images and sequences: layers, penalties and parameter counts by
hand."""

from __future__ import annotations

from typing import Any

import pytest

from autodl import models
from autodl.runtime.backend import load_keras
from tests.helpers import compiled, family_cfg, fit_and_check_outputs, layers_of, make_dataset, trainable_count

keras = load_keras()
pytestmark = pytest.mark.usefixtures("fresh_keras")


MLP_CASES = [
    ("tabular", "binary", {"layers": 1, "batch_norm": False}),
    ("tabular", "multiclass", {"layers": 3, "batch_norm": True, "dropout": 0.2}),
    ("tabular", "regression", {"layers": 2, "batch_norm": False, "activation": "gelu"}),
    ("image", "multiclass", {"layers": 1, "batch_norm": True}),
]


@pytest.mark.parametrize(("kind", "task", "changes"), MLP_CASES)
def test_mlp_builds_and_fits(kind: str, task: str, changes: dict[str, Any]) -> None:
    cfg = family_cfg("mlp", **changes)
    data = make_dataset(kind, task)
    model = compiled(cfg, data)
    dense = layers_of(model, keras.layers.Dense)
    assert [d.units for d in dense[:-1]] == [8] * cfg["layers"]
    assert all(d.use_bias is not cfg["batch_norm"] for d in dense[:-1])
    assert len(layers_of(model, keras.layers.BatchNormalization)) == (
        cfg["layers"] if cfg["batch_norm"] else 0
    )
    assert len(layers_of(model, keras.layers.Dropout)) == (cfg["layers"] if cfg["dropout"] else 0)
    assert len(layers_of(model, keras.layers.Flatten)) == (kind == "image")
    fit_and_check_outputs(model, data)


def test_mlp_parameter_count() -> None:
    data = make_dataset("tabular", "binary", n=8, shape=(5,))
    model = models.build_model(family_cfg("mlp", layers=2, units=4, batch_norm=False), data)
    assert [d.count_params() for d in layers_of(model, keras.layers.Dense)] == [
        5 * 4 + 4, 4 * 4 + 4, 4 + 1,
    ]
    assert trainable_count(model) == 24 + 20 + 5
    norm = layers_of(model, keras.layers.Normalization)[0]
    assert norm.trainable_weights == [] and tuple(norm.mean.shape)[-1] == 5


def test_mlp_parameter_count_with_batch_norm() -> None:
    data = make_dataset("tabular", "binary", n=8, shape=(5,))
    model = models.build_model(family_cfg("mlp", layers=2, units=4, batch_norm=True), data)
    assert trainable_count(model) == 5 * 4 + 2 * 4 + 4 * 4 + 2 * 4 + 5


def test_mlp_on_images_flattens_first() -> None:
    data = make_dataset("image", "multiclass", n=9, shape=(4, 4, 1))
    model = models.build_model(family_cfg("mlp", layers=1, units=3), data)
    assert trainable_count(model) == (16 * 3 + 3) + (3 * 3 + 3)


def test_mlp_on_sequences_flattens_with_penalties() -> None:
    data = make_dataset("sequence", "binary")
    model = compiled(family_cfg("mlp", layers=1, units=4, l1=0.001, activation="selu"), data)
    dense = layers_of(model, keras.layers.Dense)[0]
    assert dense.kernel.shape == (12 * 3, 4)
    assert type(dense.kernel_initializer).__name__ == "LecunNormal"
    assert dense.kernel_regularizer.get_config()["l1"] == pytest.approx(0.001)
    fit_and_check_outputs(model, data)
