"""The search engine: samplers and pruners by name, the study, and the ask/tell trial loop.

Training, tracking, progress and saving the best model are passed in, so the loop is tested with
fake objectives and never trains a network there.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from autodl import params, space, stages
from autodl.errors import AutodlError, StorageError
from autodl.log import logger
from autodl.outcome import EpochListener, PruneCheck, Suggest, TrialOutcome
from autodl.spec import PrunerSpec, Spec
from autodl.stores import absolute, mask_url, prepare_sqlite, storage_errors

optuna.logging.set_verbosity(optuna.logging.WARNING)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
STATE_NAMES = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}


ALLOWED_ATTR = "allowed_choices"


class PerTrialRandomSampler(optuna.samplers.BaseSampler):
    """Random search whose trial ``n`` depends only on (seed, n, parameter name).

    A resumed or parallel search therefore samples exactly what an uninterrupted one would. A
    trial may narrow a choice to some of its values (a coarse-to-fine stage) with the user
    attribute ``allowed_choices``: Optuna keeps one set of choices per parameter and study.
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, Any]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: optuna.distributions.BaseDistribution,
    ) -> Any:
        key = zlib.crc32(f"{self._seed}:{trial.number}:{param_name}".encode())
        allowed = trial.user_attrs.get(ALLOWED_ATTR, {}).get(param_name)
        if allowed is not None and isinstance(param_distribution, optuna.distributions.CategoricalDistribution):
            choices = [c for c in param_distribution.choices if c in allowed]
            return choices[int(np.random.default_rng(key).integers(len(choices)))]
        return optuna.samplers.RandomSampler(seed=key).sample_independent(
            study, trial, param_name, param_distribution
        )


class AskTellGridSampler(optuna.samplers.GridSampler):
    """Optuna's grid sampler without its ``study.stop()`` once the grid is used up, which only
    works inside ``Study.optimize``; the ask/tell loop checks ``is_exhausted`` itself."""

    def after_trial(
        self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Any
    ) -> None:
        return None


def grid_sampler(spec: Spec) -> optuna.samplers.BaseSampler:
    """Every combination of each searched parameter's grid values, in an order shuffled by the
    seed (so a search cut short still spreads over the grid)."""
    grid = dict(space.grid_values(name, dist, spec.search.grid_points)
                for name, dist in spec.searched().items())
    return AskTellGridSampler(grid, seed=spec.seed)


def grid_size(spec: Spec) -> int:
    """How many points the grid of ``spec`` has."""
    size = 1
    for name, dist in spec.searched().items():
        size *= len(space.grid_values(name, dist, spec.search.grid_points)[1])
    return size


SAMPLERS: dict[str, Callable[[Spec], optuna.samplers.BaseSampler]] = {
    "random": lambda spec: PerTrialRandomSampler(spec.seed),
    "coarse_to_fine": lambda spec: PerTrialRandomSampler(spec.seed),
    "tpe": lambda spec: optuna.samplers.TPESampler(seed=spec.seed),
    "grid": grid_sampler,
}


def _max_epochs(spec: Spec) -> int | str:
    epochs = spec.training.epochs
    return epochs if isinstance(epochs, int) else "auto"


PRUNERS: dict[str, Callable[[PrunerSpec, Spec], optuna.pruners.BasePruner]] = {
    "none": lambda p, s: optuna.pruners.NopPruner(),
    "median": lambda p, s: optuna.pruners.MedianPruner(
        n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_epochs + 1
    ),
    "percentile": lambda p, s: optuna.pruners.PercentilePruner(
        p.percentile, n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_epochs + 1
    ),
    "successive_halving": lambda p, s: optuna.pruners.SuccessiveHalvingPruner(
        min_resource=max(1, p.warmup_epochs)
    ),
    "hyperband": lambda p, s: optuna.pruners.HyperbandPruner(
        min_resource=max(1, p.warmup_epochs), max_resource=_max_epochs(s)
    ),
    "patient": lambda p, s: optuna.pruners.PatientPruner(
        PRUNERS[p.wraps](p, s), patience=p.patience, min_delta=p.min_delta
    ),
}


def make_sampler(spec: Spec) -> optuna.samplers.BaseSampler:
    """The sampler named by ``search.strategy``, seeded by the spec's seed."""
    return SAMPLERS[spec.search.strategy](spec)


def make_pruner(spec: Spec) -> optuna.pruners.BasePruner:
    """The pruner named by ``search.pruner.name``. Steps are 1-based epochs.

    ``patient`` waits until the objective has not improved for ``patience`` epochs, then asks the
    pruner named by ``wraps``.
    """
    return PRUNERS[spec.search.pruner.name](spec.search.pruner, spec)


HEARTBEAT_S = 20
GRACE_S = 90
SQLITE_BUSY_TIMEOUT_S = 60


def make_storage(storage_url: str) -> optuna.storages.RDBStorage:
    """The study's database, with a heartbeat per running trial.

    A worker that dies on another machine stops beating; after ``GRACE_S`` seconds any worker
    fails its trial and queues it again. SQLite waits for a lock instead of failing when several
    local workers write at once.
    """
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
    with storage_errors(storage_url):
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
    return study


@dataclass(frozen=True)
class Sample:
    """One sampled configuration: every field by section (to build with), and the active
    hyperparameters by dotted name (to log)."""

    config: dict[str, dict[str, Any]]
    params: dict[str, Any]


WORKER_ATTR = "worker"


def worker_id() -> str:
    """This process, as ``host:pid``: recorded on each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_orphans(study: optuna.Study) -> list[int]:
    """Fail the trials that a dead process on this machine left RUNNING, and queue them again.

    A search killed hard (``kill -9``, a power cut) cannot tell the study; its trials would stay
    RUNNING forever. Each is marked failed with that reason and re-queued with the same
    parameters, so no finished trial is lost or run twice. Trials of live processes, and of other
    machines, are left alone.
    """
    host = socket.gethostname()
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get(WORKER_ATTR, ""))
        owner, _, pid = worker.rpartition(":")
        if owner != host or not pid.isdigit() or _alive(int(pid)):
            continue
        reason = f"the process running it ({worker}) died before it finished"
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


def sample_config(spec: Spec, trial: optuna.trial.BaseTrial) -> Sample:
    """Sample the active searched parameters; fixed ones as given, inactive ones at their default."""
    config: dict[str, dict[str, Any]] = {name: {} for name in spec.sections()}
    config["model"]["family"] = spec.model.family
    values: dict[str, Any] = {}
    active: set[str] = set()
    for param in spec.parameters():
        if params.applies(param, values, active):
            active.add(param.name)
            value = space.suggest(trial, param.name, param.value) if param.searched else param.value
        else:
            value = param.default
        values[param.name] = value
        section, field_name = param.name.split(".", 1)
        config[section][field_name] = value
    return Sample(config, {name: values[name] for name in values if name in active})


def preview(spec: Spec, n: int) -> list[Sample]:
    """The first ``n`` configurations the spec's sampler gives, without training anything.

    With ``strategy: random`` these are exactly trials 0..n-1 of a real search.
    """
    study = optuna.create_study(sampler=make_sampler(spec))
    samples = []
    for _ in range(n):
        trial = study.ask()
        samples.append(sample_config(spec, trial))
        study.tell(trial, state=TrialState.FAIL)
    return samples


STAGE_ATTR = "stage_{}_space"


def stage_spec(
    spec: Spec, study: optuna.Study, number: int
) -> tuple[Spec, int | None, dict[str, list[Any]]]:
    """The spec trial ``number`` samples from, its 1-based coarse-to-fine stage, and the values
    each narrowed choice may take (as Optuna records them: values, or indices).

    A stage's space is the whole space zoomed onto the best complete trials so far, computed when
    the stage's first trial starts and stored with the study; later trials and resumed searches
    read it back. With fewer than two complete trials, a stage keeps the whole space.
    """
    if spec.search.strategy != "coarse_to_fine":
        return spec, None, {}
    stage = stages.stage_of(number, stages.stage_sizes(spec.search.trials, spec.search.stages))
    if stage == 0:
        return spec, 1, {}
    key = STAGE_ATTR.format(stage + 1)
    stored = study.user_attrs.get(key)
    if stored is None:
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        ranked = sorted(complete, key=lambda t: t.value,
                        reverse=spec.search.objective.resolved_direction == "maximize")
        kept = ranked[: stages.kept_count(len(ranked), spec.search.keep)]
        best = [t.user_attrs.get("params", {}) for t in kept]
        whole = spec.searched()
        zoomed = stages.zoom(whole, best, spec.search.margin) if len(best) >= stages.MIN_KEPT else whole
        stored = {name: space.as_raw(dist) for name, dist in zoomed.items()}
        study.set_user_attr(key, stored)
        logger.info(
            "stage %d of %d, from the best %d trials: %s", stage + 1, spec.search.stages, len(best),
            "; ".join(f"{name} {space.describe(space.from_raw(raw))}" for name, raw in stored.items()),
        )
    zoomed = {name: space.from_raw(raw) for name, raw in stored.items()}
    ranges = {n: d for n, d in zoomed.items() if not isinstance(d, space.Choice)}
    whole = spec.searched()
    allowed = {
        name: space.recorded_choices(whole[name], dist.values)
        for name, dist in zoomed.items() if isinstance(dist, space.Choice)
    }
    return spec.with_distributions(ranges), stage + 1, allowed


def stage_spaces(spec: Spec, study: optuna.Study) -> dict[int, dict[str, str]]:
    """Each coarse-to-fine stage's space so far, described, stage 1 being the whole space."""
    if spec.search.strategy != "coarse_to_fine":
        return {}
    found = {1: {name: space.describe(dist) for name, dist in spec.searched().items()}}
    for stage in range(2, spec.search.stages + 1):
        stored = study.user_attrs.get(STAGE_ATTR.format(stage))
        if stored is not None:
            found[stage] = {name: space.describe(space.from_raw(raw)) for name, raw in stored.items()}
    return found


def trial_seed(seed: int, number: int) -> int:
    """The seed trial ``number`` trains with, derived from the spec's seed."""
    return zlib.crc32(f"{seed}:{number}".encode()) % (2**31)


class Objective(Protocol):
    """Trains one configuration and reports how it went."""

    def __call__(
        self,
        config: dict[str, dict[str, Any]],
        seed: int,
        should_prune: PruneCheck,
        listeners: list[EpochListener],
        suggest: Suggest,
    ) -> TrialOutcome: ...


class Observer(Protocol):
    """Follows the search: tracking, progress display. Every method may be a no-op."""

    def trial_started(
        self, number: int, params: dict[str, Any], seed: int, tags: dict[str, str]
    ) -> EpochListener: ...

    def trial_finished(self, number: int, outcome: TrialOutcome) -> None: ...


@dataclass
class SearchResult:
    """How a search (or this part of a resumed one) ended."""

    study: optuna.Study
    stop_reason: str
    ran: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    stages: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def best(self) -> FrozenTrial | None:
        """The best feasible complete trial of the whole study, or ``None``."""
        return best_trial(self.study)


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best feasible complete trial, or ``None`` while there is none."""
    try:
        return study.best_trial
    except ValueError:
        return None


def count_states(study: optuna.Study) -> dict[str, int]:
    """Finished trials by state name; ``infeasible`` ones are complete but break a constraint."""
    counts = {name: 0 for name in [*STATE_NAMES.values(), "infeasible"]}
    for trial in study.get_trials(deepcopy=False, states=FINISHED):
        counts[STATE_NAMES[trial.state]] += 1
        counts["infeasible"] += trial.user_attrs.get("state") == "infeasible"
    return counts


def stop_reason(spec: Spec, study: optuna.Study, started: float) -> str | None:
    """Why no new trial may start now, or ``None`` while every budget has room.

    Trials that other workers are running count against ``search.trials``, so workers sharing a
    study stop together at the requested number; against ``search.max_epochs`` they count with
    all the epochs they may train.
    """
    trials = study.get_trials(deepcopy=False)
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


def optimize(
    spec: Spec,
    study: optuna.Study,
    objective: Objective,
    observers: list[Observer],
    on_new_best: Callable[[FrozenTrial, TrialOutcome], None],
    lock: Lock = nullcontext,
    max_trials: int | None = None,
) -> SearchResult:
    """Run trials until a budget is spent: ``search.trials`` trials in the study, the timeout,
    ``search.max_epochs`` epochs, or the whole grid.

    ``lock`` guards checking the budgets and claiming the next trial, which makes workers that
    share the study run exactly ``search.trials`` trials together; ``max_trials`` ends this
    process's share after that many (``runtime.trials_per_process``). A trial that raises is marked
    failed with its reason and the search goes on; after ``search.max_failed_trials`` failures in
    a row it stops with an error. A complete trial above a ``search.constraints`` limit is kept as
    infeasible and never becomes the best. Ctrl-C marks the running trial failed and returns with
    ``stop_reason == "interrupted"``.
    """
    recover(study)
    started = time.monotonic()
    failures_in_row = 0
    ran = 0
    while True:
        if max_trials is not None and ran >= max_trials:
            reason = f"ran {ran} trial{'s' if ran != 1 else ''} in this process"
            break
        with lock():
            optuna.storages.fail_stale_trials(study)
            reason = stop_reason(spec, study, started)
            if reason is not None:
                break
            trial = study.ask()
            trial.set_user_attr(WORKER_ATTR, worker_id())
        sampling, stage, allowed = stage_spec(spec, study, trial.number)
        if stage is not None:
            trial.set_user_attr("stage", stage)
            trial.set_user_attr(ALLOWED_ATTR, allowed)
        sample = sample_config(sampling, trial)
        config = sample.config
        seed = trial_seed(spec.seed, trial.number)
        trial.set_user_attr("seed", seed)
        trial.set_user_attr("config", config)
        trial.set_user_attr("params", sample.params)
        tags = {"stage": str(stage)} if stage is not None else {}
        listeners = [o.trial_started(trial.number, sample.params, seed, tags) for o in observers]

        def should_prune(epoch: int, value: float, trial: optuna.Trial = trial) -> bool:
            trial.report(value, epoch)
            return trial.should_prune()

        def suggest(name: str, dist: space.Distribution, trial: optuna.Trial = trial) -> Any:
            return space.suggest(trial, name, dist)

        try:
            with heartbeat(study, trial):
                outcome = objective(config, seed, should_prune, listeners, suggest)
        except KeyboardInterrupt:
            _finish(study, trial, TrialOutcome("failed", reason="interrupted by the user"), observers)
            ran += 1
            reason = "interrupted"
            break
        except Exception as exc:  # a trial's own error (bad shape, OOM): fail it and go on
            logger.debug("trial %d failed:\n%s", trial.number, traceback.format_exc())
            outcome = TrialOutcome("failed", reason=f"{type(exc).__name__}: {exc}".strip())
        ran += 1
        frozen = _finish(study, trial, outcome, observers, spec.search.constraints.limits())
        if outcome.state == "complete":
            failures_in_row = 0
            best = best_trial(study)
            if best is not None and best.number == trial.number:
                on_new_best(frozen, outcome)
        elif outcome.state == "failed":
            failures_in_row += 1
            if failures_in_row >= spec.search.max_failed_trials:
                raise AutodlError(
                    f"The last {failures_in_row} trials all failed; the latest with: "
                    f"{outcome.reason}. Check the spec's ranges (run with --verbose for the "
                    "traceback)."
                )
        else:
            failures_in_row = 0
        del outcome, frozen  # the trial's model must be garbage before the next trial starts
    return SearchResult(study, reason, ran, count_states(study), stage_spaces(spec, study))


@contextmanager
def heartbeat(study: optuna.Study, trial: optuna.Trial) -> Iterator[None]:
    """Beat for ``trial`` while it runs, when the storage keeps heartbeats.

    Optuna's own ``optimize`` does the same; the ask/tell interface has no public hook for it.
    """
    from optuna.storages._heartbeat import get_heartbeat_thread

    with get_heartbeat_thread(trial._trial_id, study._storage):
        yield


def _finish(
    study: optuna.Study,
    trial: optuna.Trial,
    outcome: TrialOutcome,
    observers: list[Observer],
    limits: dict[str, float] | None = None,
) -> FrozenTrial:
    """Record the outcome (and how far it is above each constraint limit) on the trial, tell the
    study, and notify the observers."""
    if outcome.state == "complete" and limits:
        excess = {name: outcome.metrics[name] - limit for name, limit in limits.items()}
        for name, value in excess.items():
            trial.set_constraint(name, value)
        broken = [f"{n} {outcome.metrics[n]:.4g} > {limits[n]:g}" for n, v in excess.items() if v > 0]
        if broken:
            outcome.state = "infeasible"
            outcome.reason = "breaks " + ", ".join(broken)
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
        attrs["fail_reason" if outcome.state == "failed" else "infeasible_reason"] = outcome.reason
    for key, value in attrs.items():
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
