"""Exactly the hyperparameters in effect are sampled and recorded, for every model
family of the registry on every data kind its builder accepts, for classification and regression,
with the data-dependent settings fixed and searched.

The matrix is read from the registry (``FAMILIES``) and each builder's ``DATA_KINDS``, so a new
family or data kind without an expected row here fails the test instead of passing untested.
"""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from autodl import models
from autodl.search.samplers import make_sampler
from autodl.search.sampling import sample_config
from autodl.spec.document import load_spec
from autodl.spec.sections import MODEL_SPECS
from tests.helpers import minimal_spec

TEXT = {"model.vocab_size", "model.sequence_length", "model.embedding_dim"}
AUGMENTATION = {"model.flip", "model.rotation", "model.zoom", "model.translation"}
ADAM = {f"optimizer.{n}" for n in ("name", "learning_rate", "schedule", "clipnorm", "clipvalue",
                                   "beta_1", "beta_2", "epsilon")}
TRAINING = {"training.epochs", "training.batch_size", "training.early_stopping"}
LOSS = {"training.loss"}

BASE: dict[str, set[str]] = {
    "cnn": {f"model.{n}" for n in ("blocks", "filters", "filters_growth", "kernel_size", "strides", "padding",
                                   "pooling", "batch_norm", "residual", "activation", "initializer", "l1", "l2",
                                   "dropout", "dense_layers", "dense_units", "head")},
    "rnn": {f"model.{n}" for n in ("cell", "units", "layers", "bidirectional", "dropout", "recurrent_dropout",
                                   "l1", "l2", "initializer", "dense_units", "head_dropout")},
    "mlp": {f"model.{n}" for n in ("layers", "units", "activation", "initializer", "batch_norm", "dropout",
                                   "l1", "l2")},
    "transfer": {f"model.{n}" for n in ("backbone", "fine_tune", "image_size", "dropout", "dense_units")},
    "custom": set(),
}
"""What each family reads whatever the data (Adam, the default optimizer, and a frozen backbone)."""
BY_KIND: dict[tuple[str, str], set[str]] = {
    ("cnn", "image"): AUGMENTATION, ("cnn", "text"): TEXT, ("cnn", "sequence"): set(),
    ("rnn", "text"): TEXT, ("rnn", "sequence"): set(),
    ("mlp", "tabular"): set(), ("mlp", "image"): set(), ("mlp", "sequence"): set(),
    ("transfer", "image"): set(),
    ("custom", "image"): set(), ("custom", "text"): set(), ("custom", "tabular"): set(),
    ("custom", "sequence"): set(),
}
"""What each family reads only on one kind of data."""
COMPILES_ITSELF = {"custom"}
"""Families whose model compiles itself: autodl's optimizer and regression loss are not in effect."""

FIXED: dict[str, Any] = {"vocab_size": 500, "sequence_length": 16, "embedding_dim": 8, "flip": "horizontal",
                         "rotation": 0.1, "zoom": 0.1, "translation": 0.1}
SEARCHED: dict[str, Any] = {"vocab_size": {"choice": [500, 1000]}, "sequence_length": {"int": [8, 32]},
                            "embedding_dim": {"choice": [8, 16]}, "flip": {"choice": ["none", "vertical"]},
                            "rotation": {"float": [0.0, 0.2]}, "zoom": {"float": [0.0, 0.2]},
                            "translation": {"float": [0.0, 0.2]}}
LOSSES = {"fixed": "mae", "searched": {"choice": ["mse", "mae"]}}


def matrix() -> list[tuple[str, str]]:
    return [(family.name, kind) for family in models.FAMILIES for kind in models.get(family.name).DATA_KINDS]


def test_every_family_and_data_kind_of_the_registry_has_an_expected_row() -> None:
    assert set(matrix()) == set(BY_KIND), "add the new family or data kind to BY_KIND and BASE"
    assert {family.name for family in models.FAMILIES} == set(BASE)


def model_section(family: str, how: str) -> dict[str, Any]:
    """The family's model section with every data-dependent setting it has given explicitly."""
    values = FIXED if how == "fixed" else SEARCHED
    section: dict[str, Any] = {"family": family}
    fields = MODEL_SPECS[family].model_fields
    section.update({name: value for name, value in values.items() if name in fields})
    if family == "custom":
        section["build"] = "my_models:build"
    if family == "transfer":
        section["weights"] = "none"
    return section


@pytest.mark.parametrize("how", ["fixed", "searched"])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize(("family", "kind"), sorted(BY_KIND))
def test_exactly_the_settings_in_effect_are_sampled_and_recorded(
    write_spec: Any, family: str, kind: str, task: str, how: str,
) -> None:
    spec = load_spec(write_spec(minimal_spec(model=model_section(family, how),
                                             training={"loss": LOSSES[how]})))
    trial = optuna.create_study(sampler=make_sampler(spec)).ask()
    sample = sample_config(spec, trial, {"data.kind": kind, "data.task": task})
    expected = BASE[family] | BY_KIND[family, kind] | TRAINING
    if family not in COMPILES_ITSELF:
        expected |= ADAM | (LOSS if task == "regression" else set())
    assert set(sample.params) == expected
    ignored = (TEXT | AUGMENTATION | LOSS) - expected
    assert not ignored & {name.removeprefix("1-") for name in trial.params}, "an inactive setting was sampled"
    if how == "fixed":
        for name in expected & (TEXT | AUGMENTATION):
            assert sample.params[name] == FIXED[name.removeprefix("model.")]
        if "training.loss" in expected:
            assert sample.params["training.loss"] == "mae"
