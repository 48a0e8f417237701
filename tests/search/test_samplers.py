"""Samplers by strategy: random sampling by seed and trial number, and the grid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from autodl.search.loop import optimize
from autodl.search.samplers import grid_size
from autodl.search.study import open_study
from autodl.spec.document import load_spec
from tests.helpers import SMALL_GRID, by_filters, curve_objective, make_spec, minimal_spec, new_study


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
