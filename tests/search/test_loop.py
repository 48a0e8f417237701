"""The ask/tell loop with fake objectives: budgets and stop reasons, resume, failures, Ctrl-C,
constraints, and processes sharing one study (on PostgreSQL too, skipped when no server answers;
a search waiting for the trials others run). No network trains."""

from __future__ import annotations

import multiprocessing
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import optuna

from autodl.outcome import TrialOutcome
from autodl.search.loop import optimize
from autodl.search.sampling import trial_seed
from autodl.search.study import Failures, open_study, worker_id
from autodl.spec.document import load_spec
from tests.helpers import (
    SMALL_GRID,
    Recorder,
    by_filters,
    curve_objective,
    dead_pid,
    make_spec,
    minimal_spec,
    new_study,
    trial_elsewhere,
    worker_process,
)


def test_runs_the_requested_trials_and_saves_each_new_best(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, pruner={"name": "none"})
    study = new_study(spec, tmp_path)
    saved: list[int] = []
    recorder = Recorder()
    result = optimize(spec, study, curve_objective(by_filters), [recorder],
                             lambda trial, outcome: saved.append(trial.number))
    assert result.stop_reason == "reached 6 trials"
    assert result.counts == {"complete": 6, "pruned": 0, "failed": 0, "infeasible": 0}
    assert recorder.started == list(range(6)) and [s for _, s in recorder.finished] == ["complete"] * 6
    assert recorder.epochs[:6] == [(0, e) for e in range(1, 7)]
    values = [t.value for t in study.trials]
    running_best = [i for i, v in enumerate(values) if v > max(values[:i], default=-1)]
    assert saved == running_best
    best = result.best
    assert best is not None and best.value == max(values)
    assert best.user_attrs["config"]["model"]["filters"] == best.params["model.filters"]
    assert best.user_attrs["seed"] == trial_seed(spec.seed, best.number)
    assert {t.user_attrs["recorded_by"] for t in study.trials} == {"Recorder"}, "observers' attributes are kept"


def test_resume_counts_the_trials_already_finished(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, pruner={"name": "none"})
    first = optimize(spec.with_overrides(**{"search.trials": 4}), new_study(spec, tmp_path),
                            curve_objective(by_filters), [], lambda t, o: None)
    assert first.ran == 4
    again = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [], lambda t, o: None)
    assert again.ran == 2
    assert len(again.study.trials) == 6
    assert [t.number for t in again.study.trials] == list(range(6))
    done = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [], lambda t, o: None)
    assert done.ran == 0 and done.stop_reason == "reached 6 trials"


def test_a_trial_lost_with_its_process_does_not_count_against_the_budget(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, pruner={"name": "none"})
    study = new_study(spec, tmp_path)
    optimize(spec.with_overrides(**{"search.trials": 2}), study, curve_objective(by_filters), [],
             lambda t, o: None)
    dead = dead_pid()
    lost = study.ask()
    lost.set_user_attr("worker", f"{socket.gethostname()}:{dead}")
    result = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None)
    states = [t.state for t in result.study.trials]
    assert result.stop_reason == "reached 6 trials"
    assert states.count(optuna.trial.TrialState.COMPLETE) == 6 and len(states) == 7
    assert result.study.trials[lost.number].state == optuna.trial.TrialState.FAIL
    assert [t.user_attrs.get("retry_of") for t in result.study.trials].count(lost.number) == 1
    assert result.ran == 4


def test_a_trial_lost_with_its_process_does_not_count_against_max_epochs(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=20, max_epochs=18, pruner={"name": "none"})
    study = new_study(spec, tmp_path)
    lost = study.ask()
    lost.set_user_attr("worker", f"{socket.gethostname()}:{dead_pid()}")
    result = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None)
    assert (result.stop_reason, result.ran) == ("spent the budget of 18 epochs (18 trained)", 3)
    assert study.trials[lost.number].state == optuna.trial.TrialState.FAIL


def test_a_search_that_waits_ends_after_the_trials_other_processes_run(write_spec, tmp_path) -> None:
    """``autodl search`` with an ``autodl worker`` started apart: the search's end (and its
    best-model folder) must come after the worker's last trial."""
    spec = make_spec(write_spec, trials=3, pruner={"name": "none"})
    study = new_study(spec, tmp_path)
    other = trial_elsewhere(study, f"sqlite:///{tmp_path / 'study.db'}", 3, "finish")
    result = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None, wait_for_others=True)
    assert (result.stop_reason, result.ran) == ("reached 3 trials", 2)
    assert study.trials[other].state == optuna.trial.TrialState.COMPLETE, "ended while another process ran a trial"
    assert result.best is not None and result.best.number == other


def test_a_waiting_search_runs_the_retry_of_a_trial_lost_with_its_process(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=3, pruner={"name": "none"})
    study = new_study(spec, tmp_path)
    lost = trial_elsewhere(study, f"sqlite:///{tmp_path / 'study.db'}", 2, "die")
    result = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None, wait_for_others=True)
    assert (result.stop_reason, result.ran) == ("reached 3 trials", 3)
    assert study.trials[lost].state == optuna.trial.TrialState.FAIL
    [retry] = [t for t in study.trials if t.user_attrs.get("retry_of") == lost]
    assert retry.state == optuna.trial.TrialState.COMPLETE and retry.user_attrs["worker"] == worker_id()


def test_a_failing_trial_is_recorded_and_the_search_goes_on(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, pruner={"name": "none"})
    base = curve_objective(by_filters)

    def objective(config, seed, should_prune, listeners, suggest):
        if config["model"]["blocks"] == 3:
            raise ValueError("Negative dimension size caused by subtracting 3 from 2")
        return base(config, seed, should_prune, listeners, suggest)

    result = optimize(spec, new_study(spec, tmp_path), objective, [], lambda t, o: None)
    failed = [t for t in result.study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and result.counts["failed"] == len(failed)
    assert failed[0].user_attrs["fail_reason"] == (
        "ValueError: Negative dimension size caused by subtracting 3 from 2"
    )
    assert sum(result.counts.values()) == 6


def test_a_search_that_only_fails_stops_with_the_reasons(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=20)
    reasons = iter(["ValueError: bad shape", "loss became nan at epoch 1"] * 10)

    def objective(config, seed, should_prune, listeners, suggest):
        return TrialOutcome("failed", reason=next(reasons))

    result = optimize(spec, new_study(spec, tmp_path), objective, [], lambda t, o: None)
    assert result.stop_reason == "5 trials failed in a row, search.max_failed_trials"
    assert result.gave_up and result.fell_short and result.best is None and result.ran == 5
    assert result.failures == Failures([("ValueError: bad shape", 3), ("loss became nan at epoch 1", 2)], [], 0)


def test_failures_in_a_row_after_a_best_trial_still_give_up(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=20, max_failed_trials=3, pruner={"name": "none"})
    base = curve_objective(by_filters)
    calls: list[int] = []

    def objective(config, seed, should_prune, listeners, suggest):
        calls.append(1)
        if len(calls) > 2:
            raise RuntimeError("out of memory\nwith pages of detail")
        return base(config, seed, should_prune, listeners, suggest)

    result = optimize(spec, new_study(spec, tmp_path), objective, [], lambda t, o: None)
    assert (result.ran, result.gave_up, result.fell_short) == (5, True, True)
    assert result.best is not None
    assert result.failures.failed == [("RuntimeError: out of memory", 3)]


def test_the_last_trial_failing_ends_the_budget_not_the_search(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=3, max_failed_trials=1, pruner={"name": "none"})
    base = curve_objective(by_filters)
    calls: list[int] = []

    def objective(config, seed, should_prune, listeners, suggest):
        calls.append(1)
        if len(calls) == 3:
            return TrialOutcome("failed", reason="nan")
        return base(config, seed, should_prune, listeners, suggest)

    result = optimize(spec, new_study(spec, tmp_path), objective, [], lambda t, o: None)
    assert result.stop_reason == "reached 3 trials"
    assert not result.gave_up and not result.fell_short


def test_infeasible_and_pruned_trials_are_counted_by_why(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=4, pruner={"name": "none"}, constraints={"params": 10, "latency_ms": 5})
    outcomes = iter([
        TrialOutcome("complete", value=0.5, metrics={"dev_accuracy": 0.5, "params": 20.0, "latency_ms": 1.0}),
        TrialOutcome("complete", value=0.5, metrics={"dev_accuracy": 0.5, "params": 20.0, "latency_ms": 9.0}),
        TrialOutcome("complete", value=0.5, metrics={"dev_accuracy": 0.5, "params": 30.0, "latency_ms": 2.0}),
        TrialOutcome("pruned", value=0.1, epochs=1, pruned_epoch=1),
    ])
    result = optimize(spec, new_study(spec, tmp_path), lambda *args: next(outcomes), [], lambda t, o: None)
    assert result.best is None and result.fell_short and not result.gave_up
    assert result.failures == Failures([], [("params", 2), ("latency_ms and params", 1)], 1)


def test_ctrl_c_fails_the_running_trial_and_keeps_the_rest(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, pruner={"name": "none"})
    base = curve_objective(by_filters)

    def objective(config, seed, should_prune, listeners, suggest):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(1)
        return base(config, seed, should_prune, listeners, suggest)

    calls: list[int] = []
    result = optimize(spec, new_study(spec, tmp_path), objective, [], lambda t, o: None)
    assert result.stop_reason == "interrupted"
    assert result.ran == 4
    assert result.counts == {"complete": 3, "pruned": 0, "failed": 1, "infeasible": 0}
    assert result.study.trials[3].user_attrs["fail_reason"] == "interrupted by the user"


def test_timeout_stops_before_the_next_trial(write_spec, tmp_path, monkeypatch) -> None:
    spec = make_spec(write_spec, pruner={"name": "none"}, timeout=10)
    clock = iter(range(0, 1000, 4))
    monkeypatch.setattr("autodl.search.loop.time.monotonic", lambda: next(clock))
    result = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [], lambda t, o: None)
    assert result.stop_reason == "timeout of 10 s"
    assert 0 < result.ran < 6


def test_constraints_keep_infeasible_trials_out_of_the_best(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=12, pruner={"name": "none"}, constraints={"params": 2500})

    def objective(config, seed, should_prune, listeners, suggest):
        filters = config["model"]["filters"]
        value = filters / 64
        return TrialOutcome("complete", value=value, epochs=1,
                            metrics={"dev_accuracy": value, "params": filters * 50.0, "latency_ms": 1.0})

    saved: list[int] = []
    recorder = Recorder()
    result = optimize(spec, new_study(spec, tmp_path), objective, [recorder],
                             lambda trial, outcome: saved.append(trial.number))
    trials = result.study.trials
    infeasible = [t for t in trials if t.params["model.filters"] == 64]
    assert infeasible, "the seed samples some 64-filter trials"
    for trial in infeasible:
        assert trial.user_attrs["state"] == "infeasible"
        assert trial.user_attrs["infeasible_reason"] == "breaks params 3200 > 2500"
        assert trial.constraints == {"params": 700.0}
        assert trial.number not in saved
    assert result.counts["infeasible"] == len(infeasible) and result.counts["complete"] == 12
    assert result.best is not None and result.best.params["model.filters"] == 32
    assert ("infeasible" in {state for _, state in recorder.finished})


def test_max_failed_trials_comes_from_the_spec(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=20, max_failed_trials=2)

    def objective(config, seed, should_prune, listeners, suggest):
        return TrialOutcome("failed", reason="loss became nan at epoch 1")

    result = optimize(spec, new_study(spec, tmp_path), objective, [], lambda t, o: None)
    assert (result.stop_reason, result.ran) == ("2 trials failed in a row, search.max_failed_trials", 2)


def test_max_epochs_stops_the_search_and_says_so(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=20, max_epochs=15, pruner={"name": "none"})
    result = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [],
                             lambda t, o: None)
    assert result.ran == 3
    assert result.stop_reason == "spent the budget of 15 epochs (18 trained)"


def test_a_process_share_ends_the_loop_with_budget_left(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=5, pruner={"name": "none"})
    study = new_study(spec, tmp_path)
    first = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None,
                            max_trials=2)
    assert (first.ran, first.stop_reason) == (2, "ran 2 trials in this process")
    rest = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None,
                           max_trials=4)
    assert (rest.ran, rest.stop_reason) == (3, "reached 5 trials")


def test_workers_sharing_a_study_run_exactly_the_requested_trials(write_spec, tmp_path) -> None:
    path = write_spec(minimal_spec(model=SMALL_GRID | {"dropout": {"float": [0.0, 0.5]}},
                                   training={"epochs": 2}, tracking={"enabled": False},
                                   search={"trials": 9, "pruner": {"name": "none"}}))
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    open_study(load_spec(path), storage)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=worker_process, args=(str(path), storage, 0.05)) for _ in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    assert [p.exitcode for p in workers] == [0, 0, 0]
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert len(study.trials) == 9
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert len({t.user_attrs["worker"] for t in study.trials}) >= 2


def test_three_worker_processes_run_exactly_the_requested_trials_on_postgres(
    postgres: str, write_spec: Callable[..., Path]
) -> None:
    name = f"pg-{uuid.uuid4().hex[:8]}"
    path = write_spec(minimal_spec(name=name, model=SMALL_GRID | {"dropout": {"float": [0.0, 0.5]}},
                                   training={"epochs": 2}, tracking={"enabled": False},
                                   search={"trials": 10, "pruner": {"name": "none"}}))
    open_study(load_spec(path), postgres)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=worker_process, args=(str(path), postgres, 0.05)) for _ in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    try:
        assert [p.exitcode for p in workers] == [0, 0, 0]
        study = optuna.load_study(study_name=name, storage=postgres)
        assert len(study.trials) == 10
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        assert len({t.user_attrs["worker"] for t in study.trials}) >= 2
    finally:
        optuna.delete_study(study_name=name, storage=postgres)


def test_the_data_facts_decide_what_each_trial_records(write_spec, tmp_path) -> None:
    spec = load_spec(write_spec(minimal_spec(
        model={"family": "cnn", "filters": {"choice": [16, 64]}, "rotation": 0.1, "vocab_size": 500},
        training={"epochs": 2}, search={"trials": 2, "pruner": {"name": "none"}}, tracking={"enabled": False},
    )))
    images = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [], lambda t, o: None,
                      facts={"data.kind": "image", "data.task": "multiclass"})
    for trial in images.study.trials:
        assert trial.user_attrs["params"]["model.rotation"] == 0.1
        assert not {"model.vocab_size", "training.loss"} & set(trial.user_attrs["params"])
    other = spec.with_overrides(name="texts")
    texts = optimize(other, open_study(other, f"sqlite:///{tmp_path / 'texts.db'}"), curve_objective(by_filters),
                     [], lambda t, o: None, facts={"data.kind": "text", "data.task": "regression"})
    for trial in texts.study.trials:
        assert trial.user_attrs["params"]["model.vocab_size"] == 500
        assert trial.user_attrs["params"]["training.loss"] == "mse"
        assert "model.rotation" not in trial.user_attrs["params"]
