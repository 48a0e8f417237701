"""Samplers by strategy: random sampling by seed and trial number, auto (random, then TPE), and the grid."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autodl.search.loop import optimize
from autodl.search.samplers import AUTO_RANDOM_TRIALS, grid_size
from autodl.search.study import open_study
from autodl.spec.document import load_spec
from tests.helpers import CNN_SPACE, SMALL_GRID, by_filters, curve_objective, make_spec, minimal_spec, new_study


def test_random_sampling_depends_only_on_seed_and_trial_number(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, pruner={"name": "none"})
    one = optimize(spec, open_study(spec, f"sqlite:///{tmp_path / 'a.db'}"),
                          curve_objective(by_filters), [], lambda t, o: None)
    two = optimize(spec.with_overrides(**{"search.trials": 3}),
                          open_study(spec, f"sqlite:///{tmp_path / 'b.db'}"),
                          curve_objective(by_filters), [], lambda t, o: None)
    two = optimize(spec, two.study, curve_objective(by_filters), [], lambda t, o: None)
    assert [t.params for t in one.study.trials] == [t.params for t in two.study.trials]
    reseeded = spec.with_overrides(seed=1)
    other = optimize(reseeded, open_study(reseeded, f"sqlite:///{tmp_path / 'c.db'}"),
                            curve_objective(by_filters), [], lambda t, o: None)
    assert [t.params for t in other.study.trials] != [t.params for t in one.study.trials]
    assert len({str(t.params) for t in one.study.trials}) == 6


def near_a_learning_rate(config: dict[str, Any]) -> float:
    """Best at learning rate 10**-2.5 and 64 filters, worse on the log scale away from them."""
    distance = abs(math.log10(config["optimizer"]["learning_rate"]) + 2.5)
    return max(0.0, 1.0 - distance / 3) * (0.5 + config["model"]["filters"] / 128)


def test_auto_starts_with_exactly_the_random_trials_then_models_the_space(write_spec, tmp_path) -> None:
    trials = 40
    searched = {}
    for strategy in ("auto", "random"):
        spec = make_spec(write_spec, strategy=strategy, trials=trials, pruner={"name": "none"})
        searched[strategy] = optimize(spec, open_study(spec, f"sqlite:///{tmp_path / strategy}.db"),
                                      curve_objective(near_a_learning_rate), [], lambda t, o: None).study.trials
    auto, random = searched["auto"], searched["random"]
    assert AUTO_RANDOM_TRIALS == 10
    assert [t.params for t in auto[:10]] == [t.params for t in random[:10]]
    assert [t.params for t in auto[10:]] != [t.params for t in random[10:]]
    later = {name: sorted(t.value for t in found[10:]) for name, found in searched.items()}
    assert statistics.median(later["auto"]) > statistics.median(later["random"]) + 0.1, later


def test_auto_resumed_gives_the_same_random_trials(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, strategy="auto", trials=10, pruner={"name": "none"})
    whole = optimize(spec, open_study(spec, f"sqlite:///{tmp_path / 'a.db'}"),
                     curve_objective(by_filters), [], lambda t, o: None).study.trials
    study = open_study(spec, f"sqlite:///{tmp_path / 'b.db'}")
    optimize(spec.with_overrides(**{"search.trials": 4}), study, curve_objective(by_filters), [], lambda t, o: None)
    resumed = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None).study.trials
    assert [t.params for t in resumed] == [t.params for t in whole]


def test_auto_handles_a_conditional_parameter(write_spec, tmp_path) -> None:
    spec = load_spec(write_spec(minimal_spec(
        model=CNN_SPACE, optimizer={"name": {"choice": ["adam", "sgd"]}, "momentum": {"float": [0.5, 0.99]}},
        training={"epochs": 2}, search={"trials": 16, "pruner": {"name": "none"}}, tracking={"enabled": False},
    )))
    assert spec.search.strategy == "auto"
    trials = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [],
                      lambda t, o: None).study.trials
    assert len(trials) == 16 and all(t.state.name == "COMPLETE" for t in trials)
    for trial in trials:
        assert ("optimizer.momentum" in trial.params) == (trial.params["optimizer.name"] == "sgd")


def grid_spec(write_spec: Callable[..., Path], **search_opts: Any):
    return load_spec(write_spec(minimal_spec(
        model=SMALL_GRID,
        optimizer={"learning_rate": 0.01},
        training={"epochs": 3},
        search={"strategy": "grid", "pruner": {"name": "none"}, **search_opts},
        tracking={"enabled": False},
    )))


def test_grid_tries_every_point_once_and_says_so(write_spec, tmp_path) -> None:
    spec = grid_spec(write_spec, trials=10)
    assert grid_size(spec) == 4
    result = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [],
                             lambda t, o: None)
    assert result.stop_reason == "tried every point of the grid (4)"
    points = sorted((t.params["model.blocks"], t.params["model.filters"]) for t in result.study.trials)
    assert points == [(1, 16), (1, 32), (2, 16), (2, 32)]


def test_grid_stops_at_the_trial_budget_first(write_spec, tmp_path) -> None:
    spec = grid_spec(write_spec, trials=3)
    result = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [],
                             lambda t, o: None)
    assert result.stop_reason == "reached 3 trials"
    assert len({str(t.params) for t in result.study.trials}) == 3
