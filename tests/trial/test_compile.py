"""Optimizer, loss and metric names turned into Keras objects."""

from __future__ import annotations

import pytest

from autodl.runtime.backend import load_keras
from autodl.trial.compile import loss_and_metrics, make_optimizer
from tests.helpers import optimizer_cfg

keras = load_keras()
pytestmark = pytest.mark.usefixtures("fresh_keras")


@pytest.mark.parametrize(
    ("name", "cls", "attributes"),
    [
        ("adam", "Adam", {"beta_1": 0.8, "beta_2": 0.99}),
        ("adamw", "AdamW", {"beta_1": 0.8, "beta_2": 0.99, "weight_decay": 0.01}),
        ("sgd", "SGD", {"momentum": 0.5}),
        ("rmsprop", "RMSprop", {"momentum": 0.5}),
    ],
)
def test_make_optimizer(name: str, cls: str, attributes: dict[str, float]) -> None:
    cfg = optimizer_cfg(name=name, learning_rate=0.02, momentum=0.5, beta_1=0.8, beta_2=0.99,
                        weight_decay=0.01, clipnorm=1.5)
    optimizer = make_optimizer(cfg)
    assert type(optimizer) is getattr(keras.optimizers, cls)
    assert float(optimizer.learning_rate) == pytest.approx(0.02)
    assert optimizer.clipnorm == 1.5
    for attribute, value in attributes.items():
        assert getattr(optimizer, attribute) == pytest.approx(value), attribute


def test_make_optimizer_without_clipnorm() -> None:
    optimizer = make_optimizer(optimizer_cfg(name="sgd", learning_rate=0.1))
    assert type(optimizer) is keras.optimizers.SGD
    assert optimizer.clipnorm is None and optimizer.momentum == 0.0
    assert float(optimizer.learning_rate) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("task", "regression_loss", "loss", "names"),
    [
        ("binary", "mse", "binary_crossentropy", ["accuracy", "auc"]),
        ("multiclass", "mse", "sparse_categorical_crossentropy", ["accuracy"]),
        ("regression", "mse", "mse", ["mae", "rmse"]),
        ("regression", "mae", "mae", ["mae", "rmse"]),
    ],
)
def test_loss_and_metrics(task: str, regression_loss: str, loss: str, names: list[str]) -> None:
    got_loss, got_metrics = loss_and_metrics(task, regression_loss)
    assert got_loss == loss
    assert [m if isinstance(m, str) else m.name for m in got_metrics] == names
