"""Sampling one trial's configuration: fixed and searched values, conditional parameters, seeds."""

from __future__ import annotations

import math

import optuna
import pytest

from autodl.search.samplers import make_sampler
from autodl.search.sampling import sample_config, trial_seed
from autodl.spec.document import Spec, load_spec
from tests.helpers import make_spec, minimal_spec


def test_sample_config_fills_fixed_and_searched_values(write_spec) -> None:
    spec = make_spec(write_spec)
    trial = optuna.create_study(sampler=make_sampler(spec)).ask()
    sample = sample_config(spec, trial)
    config = sample.config
    assert config["model"]["family"] == "cnn"
    assert config["model"]["filters"] in (16, 32, 64)
    assert 1 <= config["model"]["blocks"] <= 3
    assert config["training"]["epochs"] == 6
    assert 1e-4 <= config["optimizer"]["learning_rate"] <= 1e-1
    assert set(trial.params) == {"model.blocks", "model.filters", "model.dropout", "optimizer.learning_rate"}
    assert sample.params["model.filters"] == config["model"]["filters"]
    assert "training.batch_size" in sample.params and "model.family" not in sample.params
    assert "optimizer.momentum" not in sample.params, "adam takes no momentum"
    assert {"optimizer.beta_1", "optimizer.beta_2"} <= set(sample.params)


def conditional_spec(write_spec) -> Spec:
    return load_spec(
        write_spec(
            minimal_spec(
                model={"family": "rnn", "cell": {"choice": ["lstm", "gru", "simple"]},
                       "recurrent_dropout": {"float": [0.0, 0.3], "when": {"model.cell": ["lstm", "gru"]}},
                       "bidirectional": {"bool": True}},
                optimizer={"name": {"choice": ["adam", "sgd"]},
                           "momentum": {"float": [0.8, 0.99], "scale": "inv_log",
                                        "when": {"optimizer.name": "sgd"}},
                           "beta_1": {"float": [0.8, 0.99], "scale": "inv_log"}},
            )
        )
    )


def test_inactive_parameters_are_neither_sampled_nor_logged(write_spec) -> None:
    spec = conditional_spec(write_spec)
    study = optuna.create_study(sampler=make_sampler(spec))
    seen = {"sgd": 0, "adam": 0, "simple": 0, "other": 0}
    for _ in range(60):
        trial = study.ask()
        sample = sample_config(spec, trial)
        name = sample.config["optimizer"]["name"]
        seen[name] += 1
        if name == "sgd":
            assert 0.01 <= trial.params["1-optimizer.momentum"] <= 0.2 and "1-optimizer.beta_1" not in trial.params
            assert "optimizer.momentum" in sample.params and "optimizer.beta_1" not in sample.params
            assert sample.config["optimizer"]["beta_1"] == 0.9
        else:
            assert "1-optimizer.momentum" not in trial.params and "1-optimizer.beta_1" in trial.params
            assert "optimizer.momentum" not in sample.params
            assert sample.config["optimizer"]["momentum"] == 0.0
        if sample.config["model"]["cell"] == "simple":
            seen["simple"] += 1
            assert "model.recurrent_dropout" not in trial.params
            assert sample.config["model"]["recurrent_dropout"] == 0.0
        else:
            seen["other"] += 1
            assert 0.0 <= sample.params["model.recurrent_dropout"] <= 0.3
        assert sample.config["model"]["bidirectional"] in (True, False)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    assert all(count > 5 for count in seen.values()), seen


def test_trial_seeds_differ_and_are_stable() -> None:
    seeds = [trial_seed(0, n) for n in range(100)]
    assert len(set(seeds)) == 100 and all(0 <= s < 2**31 for s in seeds)
    assert trial_seed(0, 5) == trial_seed(0, 5) != trial_seed(1, 5)
    assert not math.isnan(seeds[0])


TEXT = {"model.vocab_size", "model.sequence_length", "model.embedding_dim"}
AUGMENTATION = {"model.flip", "model.rotation", "model.zoom", "model.translation"}


def in_effect(write_spec, model: dict, facts: dict[str, str], **sections: dict) -> set[str]:
    """The hyperparameters a trial of this space records, given what the data tells."""
    spec = load_spec(write_spec(minimal_spec(model=model, **sections)))
    return set(sample_config(spec, optuna.create_study(sampler=make_sampler(spec)).ask(), facts).params)


@pytest.mark.parametrize(("family", "kind", "task", "text", "augmentation", "loss"), [
    ("cnn", "image", "multiclass", False, True, False),
    ("cnn", "text", "binary", True, False, False),
    ("cnn", "sequence", "regression", False, False, True),
    ("rnn", "text", "binary", True, False, False),
    ("rnn", "sequence", "regression", False, False, True),
    ("mlp", "tabular", "regression", False, False, True),
    ("mlp", "image", "multiclass", False, False, False),
    ("mlp", "sequence", "binary", False, False, False),
])
def test_only_the_settings_a_family_reads_on_its_data_are_in_effect(
    write_spec, family: str, kind: str, task: str, text: bool, augmentation: bool, loss: bool,
) -> None:
    found = in_effect(write_spec, {"family": family}, {"data.kind": kind, "data.task": task})
    assert TEXT & found == (TEXT if text else set())
    assert AUGMENTATION & found == (AUGMENTATION if augmentation else set())
    assert ("training.loss" in found) is loss
    assert {"training.epochs", "training.batch_size", "optimizer.learning_rate"} <= found


def test_a_fixed_or_searched_setting_the_data_ignores_is_neither_sampled_nor_logged(write_spec) -> None:
    spec = load_spec(write_spec(minimal_spec(
        model={"family": "cnn", "vocab_size": 500, "embedding_dim": {"choice": [8, 16]},
               "rotation": {"float": [0.0, 0.2]}},
        training={"loss": "mae"},
    )))
    trial = optuna.create_study(sampler=make_sampler(spec)).ask()
    sample = sample_config(spec, trial, {"data.kind": "image", "data.task": "multiclass"})
    assert "model.embedding_dim" not in trial.params and "model.rotation" in trial.params
    assert not {"model.vocab_size", "model.embedding_dim", "training.loss"} & set(sample.params)
    assert sample.config["model"]["vocab_size"] == 10000 and sample.config["training"]["loss"] == "mse"
    text = sample_config(spec, optuna.create_study(sampler=make_sampler(spec)).ask(),
                         {"data.kind": "text", "data.task": "regression"})
    assert text.params["model.vocab_size"] == 500 and text.params["model.embedding_dim"] in (8, 16)
    assert text.params["training.loss"] == "mae" and "model.rotation" not in text.params


def test_padding_applies_only_without_residual_blocks(write_spec) -> None:
    facts = {"data.kind": "image", "data.task": "multiclass"}
    assert "model.padding" in in_effect(write_spec, {"family": "cnn", "residual": False}, facts)
    assert "model.padding" not in in_effect(write_spec, {"family": "cnn", "residual": True}, facts)


def test_optimizer_settings_apply_only_to_the_optimizer_and_schedule_that_read_them(write_spec) -> None:
    facts = {"data.kind": "image", "data.task": "multiclass"}
    settings = {f"optimizer.{n}" for n in ("momentum", "nesterov", "rho", "beta_1", "beta_2", "epsilon",
                                           "weight_decay", "decay_rate", "decay_epochs")}
    expected = {
        ("adam", "constant"): {"optimizer.beta_1", "optimizer.beta_2", "optimizer.epsilon"},
        ("sgd", "constant"): {"optimizer.momentum", "optimizer.nesterov"},
        ("rmsprop", "exponential"): {"optimizer.rho", "optimizer.momentum", "optimizer.epsilon",
                                     "optimizer.decay_rate"},
        ("adamw", "step"): {"optimizer.weight_decay", "optimizer.beta_1", "optimizer.beta_2",
                            "optimizer.epsilon", "optimizer.decay_rate", "optimizer.decay_epochs"},
    }
    for (name, schedule), used in expected.items():
        found = in_effect(write_spec, {"family": "mlp"}, facts,
                          optimizer={"name": name, "schedule": schedule, "learning_rate": 0.01})
        assert found & settings == used, (name, schedule)
        assert {"optimizer.clipnorm", "optimizer.clipvalue", "optimizer.schedule"} <= found


def test_a_custom_model_compiles_itself_so_the_regression_loss_is_not_in_effect(write_spec) -> None:
    found = in_effect(write_spec, {"family": "custom", "build": "my_models:build"},
                      {"data.kind": "tabular", "data.task": "regression"})
    assert found == {"training.epochs", "training.batch_size", "training.early_stopping"}


def test_without_data_facts_the_conditions_on_them_hold(write_spec) -> None:
    found = in_effect(write_spec, {"family": "cnn"}, {})
    assert TEXT | AUGMENTATION | {"training.loss"} <= found
    series = in_effect(write_spec, {"family": "rnn"}, {},
                       data={"source": "sunspots", "series": "SUNACTIVITY", "window": 8})
    assert not TEXT & series and "training.loss" in series and "data.window" in series
