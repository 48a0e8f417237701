"""The pruning benchmark's replay: a pruner run over recorded learning curves, and the choice of
the default from the replays (no training)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from autodl.spec.document import load_spec
from bench.pruning import TASKS, Curve, Verdict, choose, described, judge, main, replay, tasks_for, with_pruner
from tests.helpers import minimal_spec


def spec_of(write_spec: Callable[..., Path], epochs: int = 4):
    return load_spec(write_spec(minimal_spec(training={"epochs": epochs}, tracking={"enabled": False})))


def rising(number: int, final: float, epochs: int = 4) -> Curve:
    """A curve that climbs linearly to ``final``."""
    values = tuple(final * (k + 1) / epochs for k in range(epochs))
    return Curve(number, values, final, epochs)


def test_no_pruner_trains_every_epoch_and_keeps_the_best(write_spec) -> None:
    spec = with_pruner(spec_of(write_spec), {"name": "none"})
    curves = [rising(n, v) for n, v in enumerate([0.5, 0.9, 0.7])]
    found = replay(spec, curves)
    assert found.trained == {0: 4, 1: 4, 2: 4} and found.epochs == 12
    assert found.pruned_numbers == () and found.best == 0.9


def test_median_prunes_a_trial_below_the_median_after_its_warm_up(write_spec) -> None:
    spec = with_pruner(spec_of(write_spec), {"name": "median", "warmup_epochs": 1, "startup_trials": 2})
    curves = [rising(0, 0.8), rising(1, 0.9), rising(2, 0.2), rising(3, 0.95)]
    found = replay(spec, curves)
    assert found.trained == {0: 4, 1: 4, 2: 2, 3: 4}
    assert found.pruned_numbers == (2,) and found.best == 0.95


def test_a_failed_curve_counts_its_epochs_but_never_a_score(write_spec) -> None:
    spec = with_pruner(spec_of(write_spec), {"name": "none"})
    found = replay(spec, [Curve(0, (0.1,), None, 1), rising(1, 0.6)])
    assert found.trained == {0: 1, 1: 4} and found.best == 0.6


def test_an_epoch_budget_stops_starting_trials(write_spec) -> None:
    spec = with_pruner(spec_of(write_spec), {"name": "none"})
    found = replay(spec, [rising(n, 0.5) for n in range(5)], budget_epochs=8)
    assert found.trials == 2 and found.epochs == 8
    assert math.isnan(replay(spec, []).best)


def test_judge_compares_at_equal_trials_and_at_the_unpruned_budget(write_spec) -> None:
    spec = spec_of(write_spec)
    pool = [rising(0, 0.8), rising(1, 0.9), rising(2, 0.2), rising(3, 0.3), rising(4, 0.95)]
    settings = {"name": "median", "warmup_epochs": 1, "startup_trials": 2}
    verdict = judge(spec, settings, [pool], compared=4)
    assert verdict.saved == 1 - 12 / 16
    assert verdict.lost == 0.0
    assert verdict.budget_trials == 5 and math.isclose(verdict.budget_gain, 0.05)
    assert verdict.meets is False


def test_choose_takes_the_largest_saving_among_those_meeting_both_goals() -> None:
    def v(saved: float, lost: float) -> Verdict:
        return Verdict(saved, lost, 0, 0, saved >= 0.5 and lost <= 0.005)

    verdicts = {"a": {"x": v(0.6, 0.0), "y": v(0.8, 0.0), "z": v(0.9, 0.02)},
                "b": {"x": v(0.55, 0.0), "y": v(0.7, 0.004), "z": v(0.9, 0.0)}}
    assert choose(verdicts) == "y"
    nobody = {"a": {"x": v(0.3, 0.0), "y": v(0.6, 0.01)}}
    assert choose(nobody) == "x"
    tied_on_the_worst_task = {"a": {"x": v(0.2, 0.0), "y": v(0.27, 0.0)}, "b": {"x": v(0.18, 0.0), "y": v(0.18, 0.0)}}
    assert choose(tied_on_the_worst_task) == "y"


def test_agreement_counts_the_real_trials_that_trained_as_replayed(write_spec) -> None:
    from bench.pruning import agreement

    spec = with_pruner(spec_of(write_spec), {"name": "median", "warmup_epochs": 1, "startup_trials": 2})
    pool = [rising(0, 0.8), rising(1, 0.9), rising(2, 0.2), rising(3, 0.95), rising(4, 0.9)]
    as_replayed = [Curve(0, (), 0.8, 4), Curve(1, (), 0.9, 4), Curve(2, (), None, 2), Curve(3, (), 0.95, 4)]
    assert agreement(spec, as_replayed, pool) == 1.0
    one_differs = [*as_replayed[:2], Curve(2, (), 0.2, 4), as_replayed[3]]
    assert agreement(spec, one_differs, pool) == 0.75


def test_trials_option_compares_that_many_of_four_more_recorded() -> None:
    assert tasks_for(False, None) == TASKS
    deeper = tasks_for(False, 20)
    assert {n: (t.compared, t.pool, t.epochs) for n, t in deeper.items()} == {
        n: (20, 24, t.epochs) for n, t in TASKS.items()}
    assert tasks_for(True, 5)["digits"].pool == 9


def test_trials_below_one_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--trials", "0"])
    assert stopped.value.code == 2
    assert "--trials must be at least 1. Received: trials=0" in capsys.readouterr().err


def test_a_new_specs_default_pruner_in_words() -> None:
    from autodl.spec.sections import PrunerSpec

    assert described(PrunerSpec().model_dump()) == "percentile 25, warm-up 1, startup 5"
    assert described({"name": "median", "warmup_epochs": 2, "startup_trials": 3}) == "median, warm-up 2, startup 3"
