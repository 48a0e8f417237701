"""The study: resuming only with the same direction, unreachable storage and missing drivers, and
trials of dead or silent workers failed and queued again. The PostgreSQL test is skipped when
no server answers."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from autodl.errors import StorageError
from autodl.search.loop import optimize
from autodl.search.sampling import sample_config
from autodl.search.study import open_study, recover_orphans, worker_id
from tests.helpers import by_filters, curve_objective, dead_pid, make_spec, new_study


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


def test_missing_database_driver_says_what_to_install(write_spec) -> None:
    spec = make_spec(write_spec)
    with pytest.raises(StorageError) as info:
        open_study(spec, "mysql://root:pw@127.0.0.1/test")
    assert str(info.value) == (
        "Cannot open the study storage mysql://root:***@127.0.0.1/test: its database driver "
        "'MySQLdb' is not installed. Install it (for PostgreSQL: pip install 'autodl[postgres]')."
    )


def test_trials_left_running_by_a_dead_process_are_failed_and_queued_again(write_spec, tmp_path) -> None:

    spec = make_spec(write_spec, pruner={"name": "none"})
    study = new_study(spec, tmp_path)
    optimize(spec.with_overrides(**{"search.trials": 2}), study, curve_objective(by_filters), [],
                    lambda t, o: None)
    dead = dead_pid()
    orphan = study.ask()
    params = sample_config(spec, orphan).params
    orphan.set_user_attr("worker", f"{socket.gethostname()}:{dead}")
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


def test_a_trial_whose_remote_worker_stopped_beating_is_failed_and_queued(
    write_spec, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr("autodl.search.study.HEARTBEAT_S", 1)
    monkeypatch.setattr("autodl.search.study.GRACE_S", 1)
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
    assert len(frozen) == 4, "the lost trial's retry takes its place in the budget of 3"
    assert sum(t.state != optuna.trial.TrialState.FAIL for t in frozen) == 3


def test_two_searches_share_one_study_on_postgres(postgres: str, write_spec: Callable[..., Path]) -> None:
    spec = make_spec(write_spec, trials=5, pruner={"name": "none"})
    spec = spec.with_overrides(name=f"pg-{uuid.uuid4().hex[:8]}")
    first = optimize(spec.with_overrides(**{"search.trials": 3}), open_study(spec, postgres),
                            curve_objective(by_filters), [], lambda t, o: None)
    second = optimize(spec, open_study(spec, postgres), curve_objective(by_filters), [],
                             lambda t, o: None)
    assert (first.ran, second.ran) == (3, 2)
    study = optuna.load_study(study_name=spec.name, storage=postgres)
    assert [t.number for t in study.trials] == list(range(5))
    assert all(t.user_attrs["config"]["model"]["family"] == "cnn" for t in study.trials)
    optuna.delete_study(study_name=spec.name, storage=postgres)


def test_the_study_names_its_objective_for_optuna_dashboard(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, objective={"metric": "dev_f1"})
    url = f"sqlite:///{tmp_path / 'named.db'}"
    assert open_study(spec, url).metric_names == ["dev_f1"]
    assert optuna.load_study(study_name=spec.name, storage=url).metric_names == ["dev_f1"]
