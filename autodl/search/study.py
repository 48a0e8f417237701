"""The Optuna study of a spec: its storage (heartbeats, SQLite lock waits), creating or resuming
it, finding a stored one, recovering trials that dead workers left running, and reading its
trials by state."""

from __future__ import annotations

import os
import socket
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from autodl.errors import StorageError
from autodl.runtime.log import logger
from autodl.runtime.processes import alive
from autodl.runtime.stores import (
    absolute,
    mask_url,
    missing_sqlite,
    prepare_sqlite,
    sqlite_lock,
    storage_errors,
)
from autodl.search.pruners import make_pruner
from autodl.search.samplers import make_sampler
from autodl.spec import Spec

HEARTBEAT_S = 20
GRACE_S = 90
SQLITE_BUSY_TIMEOUT_S = 60
WORKER_ATTR = "worker"
"""Trial attribute: the ``host:pid`` of the process running it."""
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
STATE_NAMES = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}
REASON_ATTRS = {"failed": "fail_reason", "pruned": "prune_reason", "infeasible": "infeasible_reason"}
"""The trial attribute (and MLflow tag) that says why a trial ended in each state but complete."""
REASON_CHARS = 120
"""A failure reason longer than this is cut (Keras errors can run to pages)."""


def quiet_optuna() -> None:
    """Keep Optuna to warnings, and drop the warnings that concern only its own optimize loop;
    called when a study is opened, never at import."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def make_storage(storage_url: str, create: bool = True) -> optuna.storages.RDBStorage:
    """The study's database, with a heartbeat per running trial.

    A worker that dies on another machine stops beating; after ``GRACE_S`` seconds any worker
    fails its trial and queues it again. SQLite waits for a lock instead of failing when several
    local workers write at once. ``create=False`` only reads: no folder, file or table is made.
    """
    quiet_optuna()
    if create:
        prepare_sqlite(storage_url)
    engine_kwargs = (
        {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}} if storage_url.startswith("sqlite") else {}
    )
    return optuna.storages.RDBStorage(
        absolute(storage_url),
        engine_kwargs=engine_kwargs,
        heartbeat_interval=HEARTBEAT_S,
        grace_period=GRACE_S,
        heartbeat_stale_trial_callback=_queue_again,
        skip_table_creation=not create,
    )


def _queue_again(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a trial whose worker stopped beating, with the same parameters."""
    reason = f"its worker ({trial.user_attrs.get(WORKER_ATTR, 'unknown')}) stopped responding"
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number, "retry_reason": reason})
    logger.warning("trial %d: %s; queued again with the same parameters", trial.number, reason)


def open_study(spec: Spec, storage_url: str) -> optuna.Study:
    """Create the study named after the spec, or load it to resume.

    A stored study whose direction differs from the spec's cannot be resumed: its trials would be
    ranked the wrong way round.
    """
    direction = spec.search.objective.resolved_direction
    with storage_errors(storage_url), sqlite_lock(storage_url):
        study = optuna.create_study(
            study_name=spec.name,
            storage=make_storage(storage_url),
            sampler=make_sampler(spec),
            pruner=make_pruner(spec),
            direction=direction,
            load_if_exists=True,
        )
    stored = study.direction.name.lower()
    if stored != direction:
        raise StorageError(
            f"Study {spec.name!r} in {mask_url(storage_url)} cannot be resumed with this spec: it "
            f"was created to {stored} and the spec asks to {direction}. Rename the spec (name:) "
            "or use another --storage."
        )
    metric = spec.search.objective.metric
    if study.metric_names != [metric]:  # optuna-dashboard and Optuna's plots then name the objective
        with storage_errors(storage_url), sqlite_lock(storage_url):
            study.set_metric_names([metric])
    return study


def stored_study_names(storage_url: str) -> list[str] | None:
    """The studies a storage holds, or ``None`` for an SQLite file that does not exist (which is
    then not created)."""
    if missing_sqlite(storage_url) is not None:
        return None
    with storage_errors(storage_url):
        if not _has_studies_table(storage_url):
            return []
        return optuna.study.get_all_study_names(storage=make_storage(storage_url, create=False))


def _has_studies_table(storage_url: str) -> bool:
    """Whether the database has Optuna's tables (an empty file or another program's database has
    none, and reading it must not add them)."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(absolute(storage_url))
    try:
        return bool(inspect(engine).has_table("studies"))
    finally:
        engine.dispose()


def holdings(storage_url: str) -> str:
    """What a storage holds, for messages about a study it lacks: ``it holds 'a', 'b'``, ``it
    holds no study``, or that its SQLite file does not exist."""
    names = stored_study_names(storage_url)
    if names is None:
        return f"the database {missing_sqlite(storage_url)} does not exist"
    return f"it holds {', '.join(repr(n) for n in sorted(names))}" if names else "it holds no study"


def find_study(name: str, storage_url: str) -> optuna.Study | None:
    """The stored study called ``name``, or ``None`` when the storage has no such study."""
    names = stored_study_names(storage_url)
    if names is None or name not in names:
        return None
    with storage_errors(storage_url):
        return optuna.load_study(study_name=name, storage=make_storage(storage_url, create=False))


def load_stored_study(name: str, storage_url: str) -> optuna.Study:
    """The stored study called ``name``; a missing database or study is a ``StorageError`` that
    says what the storage holds and how to find the study."""
    shown = mask_url(storage_url)
    fix = "run `autodl search SPEC` first, or pass --study NAME and --storage URL of the searched study."
    names = stored_study_names(storage_url)
    if names is None or name not in names:
        raise StorageError(f"No study {name!r} in {shown} ({holdings(storage_url)}); {fix}")
    study = find_study(name, storage_url)
    if study is None:
        raise StorageError(f"Study {name!r} in {shown} disappeared while it was opened; {fix}")
    return study


def worker_id() -> str:
    """This process, as ``host:pid``: recorded on each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def local_pid(trial: FrozenTrial) -> int | None:
    """The process id of the process on this machine that ran (or runs) ``trial``; ``None`` when
    another machine did, or no worker is recorded."""
    owner, _, pid = str(trial.user_attrs.get(WORKER_ATTR, "")).rpartition(":")
    return int(pid) if owner == socket.gethostname() and pid.isdigit() else None


def recover_orphans(study: optuna.Study) -> list[int]:
    """Fail the trials that a dead process on this machine left RUNNING, and queue them again.

    A search killed hard (``kill -9``, a power cut) cannot tell the study; its trials would stay
    RUNNING forever. Each is marked failed with that reason and re-queued with the same
    parameters, so no finished trial is lost or run twice. Trials of live processes, and of other
    machines, are left alone.
    """
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = local_pid(trial)
        if pid is None or alive(pid):
            continue
        reason = f"the process running it ({trial.user_attrs[WORKER_ATTR]}) died before it finished"
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number, "retry_reason": reason})
        recovered.append(trial.number)
        logger.warning("trial %d: %s; queued again with the same parameters", trial.number, reason)
    return recovered


def recover(study: optuna.Study) -> frozenset[int]:
    """Fail and re-queue the trials of dead workers (on this machine by process id, elsewhere by
    heartbeat); return the numbers of the trials still running, which live workers own."""
    recover_orphans(study)
    optuna.storages.fail_stale_trials(study)
    return frozenset(t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


@contextmanager
def heartbeat(study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Beat for ``trial`` while it runs, when the storage keeps heartbeats.

    Optuna's own ``optimize`` does the same; the ask/tell interface has no public hook for it.
    """
    from optuna.storages._heartbeat import get_heartbeat_thread

    with get_heartbeat_thread(trial._trial_id, study._storage):
        yield


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best feasible complete trial, or ``None`` while there is none."""
    try:
        return study.best_trial
    except ValueError:
        return None


def complete_value(trial: FrozenTrial) -> float:
    """The objective value of a complete trial; a study autodl wrote always has one."""
    if trial.value is None:
        raise StorageError(
            f"trial #{trial.number} is complete but holds no single objective value; the study "
            "was not written by an autodl search (a multi-objective study?)"
        )
    return trial.value


def finished_count(study: optuna.Study) -> int:
    """Trials that are complete, pruned or failed."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def count_states(study: optuna.Study) -> dict[str, int]:
    """Finished trials by state name; ``infeasible`` ones are complete but break a constraint."""
    counts = {name: 0 for name in [*STATE_NAMES.values(), "infeasible"]}
    for trial in study.get_trials(deepcopy=False, states=FINISHED):
        counts[STATE_NAMES[trial.state]] += 1
        counts["infeasible"] += trial.user_attrs.get("state") == "infeasible"
    return counts


def counts_text(counts: dict[str, int]) -> str:
    """``10 complete (1 infeasible), 15 pruned, 0 failed``: what ``count_states`` counted."""
    infeasible = f" ({counts['infeasible']} infeasible)" if counts.get("infeasible") else ""
    return (f"{counts.get('complete', 0)} complete{infeasible}, {counts.get('pruned', 0)} pruned, "
            f"{counts.get('failed', 0)} failed")


@dataclass(frozen=True)
class Failures:
    """Why a study has no best trial yet: its failed trials' reasons and its infeasible trials'
    broken constraints, each as (reason, trials) most frequent first, and how many were pruned."""

    failed: list[tuple[str, int]]
    infeasible: list[tuple[str, int]]
    pruned: int


def _short(reason: str) -> str:
    """A reason's first line, cut to ``REASON_CHARS``."""
    line = reason.strip().splitlines()[0] if reason.strip() else "no reason recorded"
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 3] + "..."


def failures(study: optuna.Study) -> Failures:
    """The finished trials that are not a feasible complete one, grouped by why."""
    failed: Counter[str] = Counter()
    infeasible: Counter[str] = Counter()
    pruned = 0
    for trial in study.get_trials(deepcopy=False, states=FINISHED):
        if trial.state == TrialState.FAIL:
            failed[_short(str(trial.user_attrs.get("fail_reason", "")))] += 1
        elif trial.state == TrialState.PRUNED:
            pruned += 1
        elif trial.user_attrs.get("state") == "infeasible":
            broken = [name for name, excess in trial.constraints.items() if excess > 0]
            infeasible[" and ".join(broken) or "a constraint"] += 1
    return Failures(failed.most_common(), infeasible.most_common(), pruned)
