"""The search-efficiency benchmark's reading of runs (anytime curves, medians, goals) and the
scaling benchmark's data (no training)."""

from __future__ import annotations

import math
from pathlib import Path

from bench.common import Record
from bench.scaling import augmented_digits
from bench.search_efficiency import STRATEGIES, Task, best_so_far, single_threaded, task_figures
from tests.helpers import minimal_spec


def run(*ends_and_values: tuple[float, float | None]) -> list[Record]:
    return [Record(n, end, value, "complete" if value is not None else "pruned", 3)
            for n, (end, value) in enumerate(ends_and_values)]


def test_best_so_far_is_the_best_complete_score_ended_by_each_moment() -> None:
    records = run((2.0, 0.5), (3.0, None), (5.0, 0.4), (7.0, 0.8))
    curve = best_so_far(records, [1.0, 2.0, 4.0, 6.0, 7.0, 100.0])
    assert math.isnan(curve[0]) and curve[1:] == [0.5, 0.5, 0.5, 0.8, 0.8]


def test_figures_give_medians_and_autodl_against_each_rival() -> None:
    task = Task(Path("unused.yaml"), 10.0, 0.75, 400)
    by_tool = {
        "autodl": [run((1.0, 0.7), (2.0, 0.8)), run((3.0, 0.76)), run((4.0, 0.6))],
        "kt_random": [run((4.0, 0.76)), run((6.0, 0.7)), run((2.0, 0.79))],
        "kt_hyperband": [run((5.0, 0.65)), run((5.0, 0.66)), run((5.0, 0.7))],
    }
    figures = {f.key: f for f in task_figures("t", task, by_tool)}
    assert figures["search.t.autodl.best"].value == 0.76
    assert "median of 3 (seeds 0.600-0.800; +-0.021 on 400)" in figures["search.t.autodl.best"].label
    assert figures["search.t.autodl.to_target_s"].value == 3.0
    assert "(reached in 2/3)" in figures["search.t.autodl.to_target_s"].label
    assert figures["search.t.kt_random.to_target_s"].value == 4.0
    assert math.isclose(figures["search.t.autodl.best_gain_vs_kt_random"].value, 0.0)
    assert math.isclose(figures["search.t.autodl.best_gain_vs_kt_hyperband"].value, 0.1)
    assert figures["search.t.autodl.to_target_ratio"].value == 0.75
    assert figures["search.t.kt_random.best"].label.startswith("baseline: ")


def test_a_rival_that_never_reaches_the_target_bounds_the_ratio_by_the_budget() -> None:
    task = Task(Path("unused.yaml"), 10.0, 0.75, 400)
    by_tool = {"autodl": [run((4.0, 0.8))] * 3, "kt_random": [run((2.0, 0.7))] * 2 + [run((3.0, 0.9))]}
    figure = {f.key: f for f in task_figures("t", task, by_tool)}["search.t.autodl.to_target_ratio"]
    assert figure.value == 0.4
    assert "at most this: kt_random's median run did not reach it in 10 s" in figure.label


def test_a_ratio_says_which_median_run_never_reached_the_target() -> None:
    task = Task(Path("unused.yaml"), 10.0, 0.95, 400)
    neither = {"autodl": [run((4.0, 0.8))] * 3, "kt_random": [run((2.0, 0.7))] * 3}
    figure = {f.key: f for f in task_figures("t", task, neither)}["search.t.autodl.to_target_ratio"]
    assert math.isnan(figure.value)
    assert "none: neither autodl's nor kt_random's median run reached it in 10 s" in figure.label
    ours_only = {"autodl": [run((4.0, 0.8))] * 3, "kt_random": [run((2.0, 0.96))] * 3}
    figure = {f.key: f for f in task_figures("t", task, ours_only)}["search.t.autodl.to_target_ratio"]
    assert math.isnan(figure.value) and "; autodl's median run did not reach it in 10 s" in figure.label


def test_each_run_is_seeded_single_threaded_and_budgeted(write_spec) -> None:
    from autodl.spec.document import load_spec

    spec = load_spec(write_spec(minimal_spec(tracking={"enabled": False})))
    default = single_threaded(spec, "autodl", 2, 30.0)
    assert (default.seed, default.runtime.threads, default.search.timeout) == (2, 1, 30.0)
    assert default.search.strategy == "auto" and default.name.endswith("-autodl-s2")
    assert single_threaded(spec, "autodl_c2f", 0, 30.0).search.strategy == STRATEGIES["autodl_c2f"]


def test_augmented_digits_are_shifted_noisy_copies_in_range() -> None:
    features, labels = augmented_digits(500, seed=1)
    assert features.shape == (500, 64) and labels.shape == (500,)
    assert features.min() >= 0 and features.max() <= 16 and set(labels) <= set(range(10))
    again, _ = augmented_digits(500, seed=1)
    assert (features == again).all() and len({row.tobytes() for row in features}) == 500
