"""Sampling one trial's configuration: fixed and searched values, conditional parameters, seeds."""

from __future__ import annotations

import math

import optuna

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
