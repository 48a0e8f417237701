"""The ask/tell trial loop, read as a few short steps (as Optuna's ``_optimize`` ->
``_run_trial``): claim a trial under the study's lock, sample it, train it, record it, go on
until a budget is spent.

Training, tracking, progress and saving the best model are passed in, so the loop is tested with
fake objectives and never trains a network there.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.trial import FrozenTrial, TrialState

from autodl.outcome import Config, EpochListener, PruneCheck, Suggest, TrialOutcome
from autodl.runtime.log import logger
from autodl.search.pruners import why_pruned
from autodl.search.samplers import ALLOWED_ATTR, grid_size
from autodl.search.sampling import sample_config, trial_seed
from autodl.search.stages import stage_spaces, stage_spec
from autodl.search.study import (
    FINISHED,
    REASON_ATTRS,
    WORKER_ATTR,
    Failures,
    best_trial,
    count_states,
    failures,
    heartbeat,
    recover,
    worker_id,
)
from autodl.spec import Spec, params, space


class Objective(Protocol):
    """Trains one configuration and reports how it went."""

    def __call__(
        self,
        config: Config,
        seed: int,
        should_prune: PruneCheck,
        listeners: list[EpochListener],
        suggest: Suggest,
    ) -> TrialOutcome: ...


@dataclass(frozen=True)
class SearchStart:
    """What observers learn when a search (or a worker's part of it) begins."""

    name: str
    spec_text: str
    tags: dict[str, str]
    total: int
    done: int
    resume_run_id: str | None = None
    live: frozenset[int] = frozenset()


@dataclass(frozen=True)
class SearchEnd:
    """What observers learn when a search ends: its MLflow-style status (FINISHED, KILLED,
    FAILED), trial counts, stage spaces, the best trial's record and diagnosis when there is one,
    and the folders of the best model and of the plots."""

    status: str
    counts: dict[str, int] = field(default_factory=dict)
    stages: dict[int, dict[str, str]] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    diagnosis_metrics: dict[str, float] = field(default_factory=dict)
    verdict: str | None = None
    diagnosis_report: str | None = None
    folder: Path | None = None
    folder_skips: tuple[str, ...] = ()
    plots: Path | None = None


class SearchObserver(Protocol):
    """Follows a whole search, as KerasTuner's callbacks do: tracking, progress display."""

    def search_started(self, start: SearchStart) -> None: ...

    def trial_started(
        self, number: int, params: dict[str, Any], seed: int, tags: dict[str, str]
    ) -> EpochListener: ...

    def trial_attributes(self, number: int) -> dict[str, Any]:
        """What this observer adds to the Optuna trial's user attributes once the trial started
        (the tracker: its MLflow run id, so the study leads to the run)."""
        ...

    def trial_finished(self, number: int, outcome: TrialOutcome) -> None: ...

    def search_ended(self, end: SearchEnd) -> None: ...


@dataclass
class SearchResult:
    """How a search (or this part of a resumed one) ended. ``gave_up``: it stopped because
    ``search.max_failed_trials`` trials failed in a row, with budget left; ``share_ended``: this
    process ran its ``runtime.trials_per_process`` share (a fresh one goes on)."""

    study: optuna.Study
    stop_reason: str
    ran: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    stages: dict[int, dict[str, str]] = field(default_factory=dict)
    gave_up: bool = False
    share_ended: bool = False

    @property
    def best(self) -> FrozenTrial | None:
        """The best feasible complete trial of the whole study, or ``None``."""
        return best_trial(self.study)

    @property
    def fell_short(self) -> bool:
        """Whether it ended without the result asked for: no feasible complete trial in the study,
        or it gave up (an interrupted search, or a process's share, is not an end)."""
        if self.stop_reason == "interrupted" or self.share_ended:
            return False
        return self.gave_up or self.best is None

    @property
    def failures(self) -> Failures:
        """The study's failed, pruned and infeasible trials, grouped by why."""
        return failures(self.study)

    @classmethod
    def of(cls, spec: Spec, study: optuna.Study, reason: str, ran: int, gave_up: bool = False,
           share_ended: bool = False) -> SearchResult:
        """The result of ``study`` now, after ``ran`` trials in this process."""
        return cls(study, reason, ran, count_states(study), stage_spaces(spec, study), gave_up,
                   share_ended)


def stop_reason(spec: Spec, study: optuna.Study, started: float) -> str | None:
    """Why no new trial may start now, or ``None`` while every budget has room.

    Trials that other workers are running count against ``search.trials``, so workers sharing a
    study stop together at the requested number; against ``search.max_epochs`` they count with
    all the epochs they may train. A trial that failed only because its process died, and was
    queued again (its retry names it in ``retry_of``), counts no more: its retry takes its place,
    so a crash does not eat the budget.
    """
    replaced = {t.user_attrs["retry_of"] for t in study.get_trials(deepcopy=False) if "retry_of" in t.user_attrs}
    trials = [t for t in study.get_trials(deepcopy=False) if t.number not in replaced]
    claimed = sum(t.state in FINISHED or t.state == TrialState.RUNNING for t in trials)
    if claimed >= spec.search.trials:
        count = spec.search.trials
        return f"reached {count} trial{'s' if count != 1 else ''}"
    timeout = spec.search.timeout
    if timeout is not None and time.monotonic() - started >= timeout:
        return f"timeout of {timeout:g} s"
    budget = spec.search.max_epochs
    if budget is not None:
        spent = sum(int(t.user_attrs.get("epochs") or 0) for t in trials if t.state in FINISHED)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        if spent + running * max(space.candidates(spec.training.epochs)) >= budget:
            return f"spent the budget of {budget} epochs ({spent} trained)"
    sampler = study.sampler
    if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study):
        return f"tried every point of the grid ({grid_size(spec)})"
    return None


Lock = Callable[[], AbstractContextManager[object]]
NewBest = Callable[[FrozenTrial, TrialOutcome], None]
POLL_S = 1.0
"""How often a process that waits for others (the trials they run, a model they save) looks again."""


class Interrupted(Exception):
    """Ctrl-C during a trial: the trial is recorded as failed and the loop ends."""


@dataclass
class _Loop:
    """One process's run of the loop: its inputs and the counts it keeps."""

    spec: Spec
    study: optuna.Study
    objective: Objective
    observers: list[SearchObserver]
    on_new_best: NewBest
    lock: Lock
    max_trials: int | None
    facts: params.Facts
    started: float = field(init=False)
    ran: int = 0
    failures_in_row: int = 0
    gave_up: bool = False
    running: frozenset[int] = frozenset()
    waiting: bool = False

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def claim(self) -> tuple[optuna.Trial | None, str | None]:
        """The next trial, claimed under the study's lock, or why none may start; the last
        ``search.max_failed_trials`` trials here all failing stops it while budget is left.

        Trials that dead processes left running are failed and queued again first (``recover``):
        their retries take their place in the budget. ``running`` keeps the trials live processes
        run meanwhile."""
        if self.max_trials is not None and self.ran >= self.max_trials:
            return None, f"ran {self.ran} trial{'s' if self.ran != 1 else ''} in this process"
        with self.lock():
            self.running = recover(self.study)
            reason = stop_reason(self.spec, self.study, self.started)
            if reason is None and self.failures_in_row >= self.spec.search.max_failed_trials:
                self.gave_up = True
                reason = f"{self.failures_in_row} trials failed in a row, search.max_failed_trials"
            if reason is not None:
                return None, reason
            trial = self.study.ask()
            trial.set_user_attr(WORKER_ATTR, worker_id())
        return trial, None

    def wait(self, reason: str) -> str | None:
        """Wait a moment for the trials other processes run (said once); ``None`` then, so that the
        loop claims again, or ``"interrupted"`` on Ctrl-C. ``reason``: why no trial starts here."""
        if not self.waiting:
            numbers = sorted(self.running)
            logger.info("%s; waiting for trial%s %s, which other processes are running", reason,
                        "s" if len(numbers) > 1 else "", ", ".join(f"#{n}" for n in numbers))
            self.waiting = True
        try:
            time.sleep(POLL_S)
        except KeyboardInterrupt:
            return "interrupted"
        return None

    def run_one(self, trial: optuna.Trial) -> TrialOutcome:
        """Sample the trial, tell the observers, train it; raises ``Interrupted`` on Ctrl-C.

        A pruned trial's reason says what the pruner saw: its value against the threshold.
        """
        config, values, seed, tags = self._sample(trial)
        listeners = [o.trial_started(trial.number, values, seed, tags) for o in self.observers]
        for observer in self.observers:
            for key, value in observer.trial_attributes(trial.number).items():
                trial.set_user_attr(key, value)
        pruned: list[str] = []

        def should_prune(epoch: int, value: float) -> bool:
            trial.report(value, epoch)
            if not trial.should_prune():
                return False
            frozen = next(t for t in self.study.get_trials(deepcopy=False) if t.number == trial.number)
            pruned.append(why_pruned(self.spec, self.study, frozen, epoch))
            return True

        def suggest(name: str, dist: space.Distribution) -> Any:
            return space.suggest(trial, name, dist)

        try:
            with heartbeat(self.study, trial):
                outcome = self.objective(config, seed, should_prune, listeners, suggest)
            if outcome.state == "pruned" and outcome.reason is None and pruned:
                outcome.reason = pruned[-1]
            return outcome
        except KeyboardInterrupt:
            self.ran += 1
            _finish(self.study, trial, TrialOutcome("failed", reason="interrupted by the user"),
                    self.observers)
            raise Interrupted from None
        except Exception as exc:  # a trial's own error (bad shape, OOM): fail it and go on
            logger.debug("trial %d failed:\n%s", trial.number, traceback.format_exc())
            return TrialOutcome("failed", reason=f"{type(exc).__name__}: {exc}".strip())

    def _sample(self, trial: optuna.Trial) -> tuple[Config, dict[str, Any], int, dict[str, str]]:
        """The trial's stage, configuration and seed, recorded on the trial."""
        sampling, stage, allowed = stage_spec(self.spec, self.study, trial.number)
        if stage is not None:
            trial.set_user_attr("stage", stage)
            trial.set_user_attr(ALLOWED_ATTR, allowed)
        sample = sample_config(sampling, trial, self.facts)
        seed = trial_seed(self.spec.seed, trial.number)
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("config", sample.config)
        trial.set_user_attr("params", sample.params)
        tags = {"stage": str(stage)} if stage is not None else {}
        return sample.config, sample.params, seed, tags

    def record(self, trial: optuna.Trial, outcome: TrialOutcome) -> None:
        """Tell the study, save a new best, and count the failures in a row."""
        self.ran += 1
        frozen = _finish(self.study, trial, outcome, self.observers,
                         self.spec.search.constraints.limits())
        if outcome.state == "failed":
            self.failures_in_row += 1
            return
        self.failures_in_row = 0
        if outcome.state == "complete":
            best = best_trial(self.study)
            if best is not None and best.number == trial.number:
                self.on_new_best(frozen, outcome)


def optimize(
    spec: Spec,
    study: optuna.Study,
    objective: Objective,
    observers: list[SearchObserver],
    on_new_best: NewBest,
    lock: Lock = nullcontext,
    max_trials: int | None = None,
    facts: params.Facts | None = None,
    wait_for_others: bool = False,
) -> SearchResult:
    """Run trials until a budget is spent: ``search.trials`` trials in the study, the timeout,
    ``search.max_epochs`` epochs, or the whole grid.

    ``facts`` are what the data tells the hyperparameters' conditions (``Dataset.facts``: its kind
    and task), so each trial samples and records only the hyperparameters in effect.

    ``lock`` guards checking the budgets and claiming the next trial, which makes workers that
    share the study run exactly ``search.trials`` trials together; ``max_trials`` ends this
    process's share after that many (``runtime.trials_per_process``). A trial that raises is marked
    failed with its reason and the search goes on; after ``search.max_failed_trials`` failures in
    a row it stops (``gave_up``). A complete trial above a ``search.constraints`` limit is kept as
    infeasible and never becomes the best. Ctrl-C marks the running trial failed and returns with
    ``stop_reason == "interrupted"``.

    ``wait_for_others`` (``autodl search``): once no trial may start here, wait until no other
    process (an ``autodl worker``) runs a trial of the study, so that the search ends, and makes
    its best-model folder, after the study's last trial. A trial lost meanwhile with its process
    is queued again, and its retry runs here while budget is left.
    """
    loop = _Loop(spec, study, objective, observers, on_new_best, lock, max_trials, facts or {})
    while True:
        trial, reason = loop.claim()
        if trial is None and wait_for_others and loop.running and reason is not None:
            reason = loop.wait(reason)
            if reason is None:
                continue
        if trial is None:
            break
        try:
            outcome = loop.run_one(trial)
        except Interrupted:
            reason = "interrupted"
            break
        loop.record(trial, outcome)
        del outcome  # the trial's model must be garbage before the next trial starts
    share_ended = max_trials is not None and loop.ran >= max_trials and reason != "interrupted"
    return SearchResult.of(spec, study, reason or "stopped", loop.ran, loop.gave_up, share_ended)


def _constrain(trial: optuna.Trial, outcome: TrialOutcome, limits: dict[str, float]) -> None:
    """Record how far a complete trial is above each constraint limit; above any, it is infeasible."""
    excess = {name: outcome.metrics[name] - limit for name, limit in limits.items()}
    for name, value in excess.items():
        trial.set_constraint(name, value)
    broken = [f"{n} {outcome.metrics[n]:.4g} > {limits[n]:g}" for n, v in excess.items() if v > 0]
    if broken:
        outcome.state = "infeasible"
        outcome.reason = "breaks " + ", ".join(broken)


def _attributes(trial: optuna.Trial, outcome: TrialOutcome) -> dict[str, Any]:
    """What the study keeps of an outcome, as the trial's user attributes."""
    attrs: dict[str, Any] = {
        "state": outcome.state,
        "epochs": outcome.epochs,
        "duration_s": round(outcome.duration_s, 3),
        "params_count": outcome.params_count,
        "metrics": outcome.metrics,
    }
    if outcome.pruned_epoch is not None:
        attrs["pruned_epoch"] = outcome.pruned_epoch
    if outcome.params:
        attrs["params"] = {**trial.user_attrs.get("params", {}), **outcome.params}
    if outcome.reason:
        attrs[REASON_ATTRS[outcome.state]] = outcome.reason
    return attrs


def _finish(
    study: optuna.Study,
    trial: optuna.Trial,
    outcome: TrialOutcome,
    observers: list[SearchObserver],
    limits: dict[str, float] | None = None,
) -> FrozenTrial:
    """Record the outcome on the trial, tell the study, and notify the observers."""
    if outcome.state == "complete" and limits:
        _constrain(trial, outcome, limits)
    for key, value in _attributes(trial, outcome).items():
        trial.set_user_attr(key, value)
    if outcome.state in ("complete", "infeasible"):
        frozen = study.tell(trial, outcome.value)
    elif outcome.state == "pruned":
        frozen = study.tell(trial, state=TrialState.PRUNED)
    else:
        frozen = study.tell(trial, state=TrialState.FAIL)
    for observer in observers:
        observer.trial_finished(trial.number, outcome)
    if outcome.state == "failed":
        logger.warning("trial %d failed: %s", trial.number, outcome.reason)
    return frozen
