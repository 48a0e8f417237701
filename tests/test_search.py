"""The search loop with fake objectives: budgets, resume, pruning, failures. No network trains."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

import autodl.search.loop as search_loop
import autodl.search.study as search_study
from autodl.errors import AutodlError, StorageError
from autodl.outcome import EpochListener, PruneCheck, TrialOutcome
from autodl.search.loop import Objective, optimize
from autodl.search.pruners import PRUNERS
from autodl.search.samplers import make_sampler
from autodl.search.sampling import sample_config, trial_seed
from autodl.search.study import open_study, recover_orphans, worker_id
from autodl.spec import Spec, load_spec
from tests.conftest import minimal_spec

SPACE = {
    "family": "cnn",
    "blocks": {"int": [1, 3]},
    "filters": {"choice": [16, 32, 64]},
    "dropout": {"float": [0.0, 0.5]},
}


def make_spec(write_spec: Callable[..., Path], **search_opts: Any) -> Spec:
    return load_spec(
        write_spec(
            minimal_spec(
                model=SPACE,
                training={"epochs": 6},
                search={"trials": 6, **search_opts},
                tracking={"enabled": False},
            )
        )
    )


class Recorder:
    """An observer that records what the loop tells it."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.finished: list[tuple[int, str]] = []
        self.epochs: list[tuple[int, int]] = []

    def trial_started(
        self, number: int, params: dict[str, Any], seed: int, tags: dict[str, str]
    ) -> EpochListener:
        self.started.append(number)
        return lambda epoch, metrics: self.epochs.append((number, epoch))

    def trial_finished(self, number: int, outcome: TrialOutcome) -> None:
        self.finished.append((number, outcome.state))


def curve_objective(score: Callable[[dict[str, Any]], float]) -> Objective:
    """A fake trainer: dev accuracy climbs towards ``score(config)`` over the epochs."""

    def objective(
        config: dict[str, dict[str, Any]],
        seed: int,
        should_prune: PruneCheck,
        listeners: list[EpochListener],
        suggest: Any,
    ) -> TrialOutcome:
        target = score(config)
        history: list[float] = []
        for epoch in range(1, config["training"]["epochs"] + 1):
            value = target * (1 - 0.5 ** epoch)
            history.append(value)
            for listener in listeners:
                listener(epoch, {"dev_accuracy": value})
            if should_prune(epoch, value):
                return TrialOutcome("pruned", value=value, epochs=epoch, pruned_epoch=epoch,
                                    history={"dev_accuracy": history})
        return TrialOutcome("complete", value=history[-1], epochs=len(history),
                            metrics={"dev_accuracy": history[-1]})

    return objective


def by_filters(config: dict[str, Any]) -> float:
    return config["model"]["filters"] / 64


def new_study(spec: Spec, tmp_path: Path) -> optuna.Study:
    return open_study(spec, f"sqlite:///{tmp_path / 'study.db'}")


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


def test_median_pruner_stops_bad_trials_after_warmup(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=12, pruner={"name": "median", "warmup_epochs": 2, "startup_trials": 3})
    recorder = Recorder()
    result = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [recorder],
                             lambda t, o: None)
    pruned = [t for t in result.study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "some low-filter trials are pruned"
    for trial in pruned:
        assert trial.user_attrs["pruned_epoch"] >= 3
        assert trial.user_attrs["state"] == "pruned"
        assert trial.params["model.filters"] < 64
    assert all(t.state != optuna.trial.TrialState.PRUNED for t in result.study.trials[:3])
    assert result.counts["pruned"] == len(pruned)


@pytest.mark.parametrize("name", list(PRUNERS))
def test_every_pruner_by_name(name: str, write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=8, pruner={"name": name, "warmup_epochs": 1, "startup_trials": 2})
    study = new_study(spec, tmp_path)
    result = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None)
    assert sum(result.counts.values()) == 8
    assert type(study.pruner).__name__ == {
        "none": "NopPruner", "median": "MedianPruner", "percentile": "PercentilePruner",
        "successive_halving": "SuccessiveHalvingPruner", "hyperband": "HyperbandPruner",
        "patient": "PatientPruner",
    }[name]


def test_warmup_protects_early_epochs_with_ask_tell() -> None:
    spec_pruner = PRUNERS["median"]
    from autodl.spec.sections import PrunerSpec

    pruner = spec_pruner(PrunerSpec(warmup_epochs=2, startup_trials=1), None)  # type: ignore[arg-type]
    study = optuna.create_study(direction="maximize", pruner=pruner)
    good = study.ask()
    for epoch in range(1, 6):
        good.report(1.0, epoch)
    study.tell(good, 1.0)
    bad = study.ask()
    decisions = []
    for epoch in range(1, 6):
        bad.report(0.0, epoch)
        decisions.append(bad.should_prune())
    assert decisions == [False, False, True, True, True]


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


def test_a_search_that_only_fails_stops_with_the_reason(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=20)

    def objective(config, seed, should_prune, listeners, suggest):
        return TrialOutcome("failed", reason="loss became nan at epoch 1")

    with pytest.raises(AutodlError, match=r"The last 5 trials all failed; the latest with: loss became nan at epoch 1"):
        optimize(spec, new_study(spec, tmp_path), objective, [], lambda t, o: None)


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
    monkeypatch.setattr(search_loop.time, "monotonic", lambda: next(clock))
    result = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [], lambda t, o: None)
    assert result.stop_reason == "timeout of 10 s"
    assert 0 < result.ran < 6


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


def test_study_with_another_direction_is_refused(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec)
    new_study(spec, tmp_path)
    flipped = spec.with_overrides(**{"search.objective.direction": "minimize"})
    with pytest.raises(StorageError, match="Study 'tiny' in sqlite:///.* cannot be resumed with this spec"):
        new_study(flipped, tmp_path)


def test_unreachable_database_is_a_clear_error(write_spec) -> None:
    spec = make_spec(write_spec)
    with pytest.raises(StorageError) as info:
        open_study(spec, "postgresql://autodl:s3cret@127.0.0.1:1/nowhere")
    message = str(info.value)
    assert message.startswith("Cannot open the study storage postgresql://autodl:***@127.0.0.1:1/nowhere")
    assert "s3cret" not in message
    assert message.endswith("Check the URL and that the database server is running.")


def test_trial_seeds_differ_and_are_stable() -> None:
    seeds = [trial_seed(0, n) for n in range(100)]
    assert len(set(seeds)) == 100 and all(0 <= s < 2**31 for s in seeds)
    assert trial_seed(0, 5) == trial_seed(0, 5) != trial_seed(1, 5)
    assert not math.isnan(seeds[0])


def test_missing_database_driver_says_what_to_install(write_spec) -> None:
    spec = make_spec(write_spec)
    with pytest.raises(StorageError) as info:
        open_study(spec, "mysql://root:pw@127.0.0.1/test")
    assert str(info.value) == (
        "Cannot open the study storage mysql://root:***@127.0.0.1/test: its database driver "
        "'MySQLdb' is not installed. Install it (for PostgreSQL: pip install 'autodl[postgres]')."
    )


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

    with pytest.raises(AutodlError, match=r"^The last 2 trials all failed"):
        optimize(spec, new_study(spec, tmp_path), objective, [], lambda t, o: None)


def test_trials_left_running_by_a_dead_process_are_failed_and_queued_again(write_spec, tmp_path) -> None:
    import subprocess
    import sys

    spec = make_spec(write_spec, pruner={"name": "none"})
    study = new_study(spec, tmp_path)
    optimize(spec.with_overrides(**{"search.trials": 2}), study, curve_objective(by_filters), [],
                    lambda t, o: None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = study.ask()
    params = sample_config(spec, orphan).params
    orphan.set_user_attr("worker", f"{search_study.socket.gethostname()}:{dead.pid}")
    alive = study.ask()
    alive.set_user_attr("worker", worker_id())
    elsewhere = study.ask()
    elsewhere.set_user_attr("worker", "another-host:1")

    assert recover_orphans(study) == [orphan.number]
    states = {t.number: t.state for t in study.trials}
    assert states[orphan.number] == optuna.trial.TrialState.FAIL
    assert states[alive.number] == states[elsewhere.number] == optuna.trial.TrialState.RUNNING
    retry = study.ask()
    assert retry.user_attrs["retry_of"] == orphan.number
    assert "died before it finished" in retry.user_attrs["retry_reason"]
    assert sample_config(spec, retry).params == params
