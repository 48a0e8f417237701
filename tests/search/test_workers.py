"""Worker processes of ``autodl search --workers N``: how the search reads their exits, replaces
them, and waits for trials other processes run. The workers here are tiny stand-in processes;
real ones train in tests/e2e/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from autodl.errors import AutodlError
from autodl.search.workers import Workers, run_workers
from tests.helpers import make_spec, new_study, trial_elsewhere


def test_a_worker_that_fails_stops_the_search_with_a_message(write_spec, tmp_path: Path) -> None:
    spec = make_spec(write_spec, trials=3)
    failing = Workers(2, [sys.executable, "-c", "import sys; sys.exit(2)"])
    with pytest.raises(AutodlError) as info:
        run_workers(spec, new_study(spec, tmp_path), failing, live=False)
    assert str(info.value).startswith(
        "worker 1 (exit code 2), worker 2 (exit code 2) stopped with an error (its message is "
        "above); the trials already finished are kept in the study."
    )


def test_workers_that_exit_after_interruption_end_the_search_as_interrupted(
    write_spec, tmp_path: Path
) -> None:
    spec = make_spec(write_spec, trials=3)
    interrupted = Workers(2, [sys.executable, "-c", "import sys; sys.exit(130)"])
    result = run_workers(spec, new_study(spec, tmp_path), interrupted, live=False)
    assert result.stop_reason == "interrupted" and result.ran == 0


def test_workers_that_end_their_share_are_replaced_until_the_budget_is_spent(
    write_spec, tmp_path: Path
) -> None:
    """Each stand-in worker runs one fake trial and exits, as ``trials_per_process: 1`` does."""
    spec = make_spec(write_spec, trials=3).with_overrides(**{"runtime.trials_per_process": 1})
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    new_study(spec, tmp_path)
    one_trial = (
        "import optuna; s = optuna.load_study(study_name='tiny', storage=" + repr(storage) + "); "
        "t = s.ask(); s.tell(t, 0.5)"
    )
    pool = Workers(1, [sys.executable, "-c", one_trial])
    result = run_workers(spec, new_study(spec, tmp_path), pool, live=False)
    assert result.stop_reason == "reached 3 trials" and result.ran == 3


def test_the_search_waits_for_a_trial_run_apart_and_replaces_it_when_it_is_lost(write_spec, tmp_path: Path) -> None:
    """An ``autodl worker`` started apart runs a trial when the search's workers have ended: the
    search waits for it; it dies, so its trial is queued again, and a fresh worker of the search
    (here a stand-in that runs the queued trials) runs the retry."""
    spec = make_spec(write_spec, trials=3)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = new_study(spec, tmp_path)
    lost = trial_elsewhere(study, storage, 2, "die")
    for value in (0.1, 0.2):
        study.tell(study.ask(), value)
    queued = (
        "import optuna; s = optuna.load_study(study_name='tiny', storage=" + repr(storage) + "); "
        "[s.tell(s.ask(), 0.5) for t in s.trials if t.state.name == 'WAITING']"
    )
    result = run_workers(spec, study, Workers(1, [sys.executable, "-c", queued]), live=False)
    assert result.stop_reason == "reached 3 trials"
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert study.trials[3].user_attrs["retry_of"] == lost


def test_workers_that_give_up_end_the_search_as_given_up(write_spec, tmp_path: Path) -> None:
    """Exit code 1 (no result, or ``search.max_failed_trials`` failures in a row) is no error; with
    budget left it means the workers gave up."""
    spec = make_spec(write_spec, trials=3)
    gave_up = Workers(2, [sys.executable, "-c", "import sys; sys.exit(1)"])
    result = run_workers(spec, new_study(spec, tmp_path), gave_up, live=False)
    assert result.stop_reason == ("worker 1, worker 2 stopped after search.max_failed_trials failed "
                                  "trials in a row")
    assert result.gave_up and result.fell_short and result.ran == 0
