"""Grid search, the patient pruner, the epoch budget, workers sharing a study, and heartbeats.

Fake objectives only: nothing trains here.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

import autodl.search.study as search_study
from autodl.errors import SpecError
from autodl.outcome import EpochListener, PruneCheck, TrialOutcome
from autodl.runtime.stores import study_lock
from autodl.search.loop import optimize
from autodl.search.pruners import PRUNERS
from autodl.search.samplers import grid_size
from autodl.search.study import open_study
from autodl.spec import load_spec, space
from autodl.spec.sections import PrunerSpec
from tests.conftest import minimal_spec
from tests.test_search import by_filters, curve_objective, make_spec, new_study

SMALL_GRID = {
    "family": "cnn",
    "blocks": {"int": [1, 2]},
    "filters": {"choice": [16, 32]},
}


def grid_spec(write_spec: Callable[..., Path], **search_opts: Any):
    return load_spec(write_spec(minimal_spec(
        model=SMALL_GRID,
        optimizer={"learning_rate": 0.01},
        training={"epochs": 3},
        search={"strategy": "grid", "pruner": {"name": "none"}, **search_opts},
        tracking={"enabled": False},
    )))


def test_grid_values_follow_each_scale() -> None:
    assert space.grid_values("lr", space.FloatRange(1e-4, 1e-1, "log"), 4) == (
        "lr", [1e-4, 1e-3, 1e-2, 1e-1])
    name, values = space.grid_values("beta", space.FloatRange(0.9, 0.999, "inv_log"), 3)
    assert name == "1-beta" and [round(1 - v, 6) for v in values] == [0.999, 0.99, 0.9]
    assert space.grid_values("units", space.IntRange(8, 128, 8), 3) == ("units", [8, 72, 128])
    assert space.grid_values("blocks", space.IntRange(1, 3), 5) == ("blocks", [1, 2, 3])
    assert space.grid_values("drop", space.FloatRange(0.0, 0.5, "linear", 0.25), 3) == (
        "drop", [0.0, 0.25, 0.5])
    assert space.grid_values("act", space.Choice(("relu", "tanh")), 3) == ("act", ["relu", "tanh"])


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


def test_grid_refuses_a_custom_model(write_spec, tmp_path) -> None:
    (tmp_path / "hm.py").write_text("def build(hp):\n    return None\n")
    path = write_spec(minimal_spec(model={"family": "custom", "build": "hm.py:build"},
                                   search={"strategy": "grid"}))
    with pytest.raises(SpecError, match=r"search.strategy: grid needs every hyperparameter"):
        load_spec(path)


def test_patient_pruner_asks_the_wrapped_one_only_once_the_objective_falls_back() -> None:
    spec_pruner = PrunerSpec(name="patient", wraps="median", patience=2, warmup_epochs=0,
                             startup_trials=1)
    pruner = PRUNERS["patient"](spec_pruner, None)  # type: ignore[arg-type]
    study = optuna.create_study(direction="maximize", pruner=pruner)
    good = study.ask()
    for epoch in range(1, 8):
        good.report(0.9, epoch)
    study.tell(good, 0.9)
    improving = study.ask()
    decisions = []
    for epoch, value in enumerate([0.1, 0.3, 0.3, 0.2, 0.2, 0.2], start=1):
        improving.report(value, epoch)
        decisions.append(improving.should_prune())
    assert decisions == [False, False, False, False, False, True]


def test_max_epochs_stops_the_search_and_says_so(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=20, max_epochs=15, pruner={"name": "none"})
    result = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [],
                             lambda t, o: None)
    assert result.ran == 3
    assert result.stop_reason == "spent the budget of 15 epochs (18 trained)"


def _worker(spec_path: str, storage: str, delay: float) -> None:
    """One worker process sharing the study, with a slow fake objective."""
    spec = load_spec(Path(spec_path))
    study = open_study(spec, storage)
    base = curve_objective(by_filters)

    def slow(config: dict[str, Any], seed: int, should_prune: PruneCheck,
             listeners: list[EpochListener], suggest: Any) -> TrialOutcome:
        time.sleep(delay)
        return base(config, seed, should_prune, listeners, suggest)

    optimize(spec, study, slow, [], lambda t, o: None,
                    lock=lambda: study_lock(storage, spec.name))


def test_workers_sharing_a_study_run_exactly_the_requested_trials(write_spec, tmp_path) -> None:
    path = write_spec(minimal_spec(model=SMALL_GRID | {"dropout": {"float": [0.0, 0.5]}},
                                   training={"epochs": 2}, tracking={"enabled": False},
                                   search={"trials": 9, "pruner": {"name": "none"}}))
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    open_study(load_spec(path), storage)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_worker, args=(str(path), storage, 0.05)) for _ in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    assert [p.exitcode for p in workers] == [0, 0, 0]
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert len(study.trials) == 9
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert len({t.user_attrs["worker"] for t in study.trials}) >= 2


def test_a_trial_whose_remote_worker_stopped_beating_is_failed_and_queued(
    write_spec, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(search_study, "HEARTBEAT_S", 1)
    monkeypatch.setattr(search_study, "GRACE_S", 1)
    spec = make_spec(write_spec, trials=3, pruner={"name": "none"})
    study = new_study(spec, tmp_path)
    lost = study.ask()
    lost.set_user_attr("worker", "another-machine:4242")
    lost.suggest_int("model.blocks", 1, 3)
    study._storage.record_heartbeat(lost._trial_id)
    time.sleep(2.5)
    result = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None)
    frozen = result.study.trials
    assert frozen[0].state == optuna.trial.TrialState.FAIL
    retry = [t for t in frozen if t.user_attrs.get("retry_of") == 0]
    assert len(retry) == 1 and retry[0].params["model.blocks"] == lost.params["model.blocks"]
    assert "another-machine:4242" in retry[0].user_attrs["retry_reason"]
    assert len(frozen) == 3


def test_a_process_share_ends_the_loop_with_budget_left(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=5, pruner={"name": "none"})
    study = new_study(spec, tmp_path)
    first = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None,
                            max_trials=2)
    assert (first.ran, first.stop_reason) == (2, "ran 2 trials in this process")
    rest = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None,
                           max_trials=4)
    assert (rest.ran, rest.stop_reason) == (3, "reached 5 trials")
