"""One search from a validated spec to a saved best model: the stages wired in order.

    spec -> data -> search (each trial: trial.run_trial) -> tracking -> results -> report -> export

The CLI calls ``run_search`` (or ``run_worker``); each stage lives in its own package.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from autodl import models
from autodl.data import DataFor, Dataset, for_config, load_dataset, representative
from autodl.errors import AutodlError, SpecError
from autodl.export.bundle import after_search
from autodl.outcome import Config, EpochListener, PruneCheck, Suggest, TrialOutcome
from autodl.report.plots import PLOTS_DIR, search_plots
from autodl.results import BestModelSaver, SearchSummary, best_dir, finalize
from autodl.results.diagnosis import Diagnosis
from autodl.results.finalize import DIAGNOSIS_FILE, rediagnose
from autodl.results.learning_curve import CURVE_FILE, LearningCurve
from autodl.results.record import (
    EXPORT_FOLDER,
    INFO_FILE,
    MODEL_FILE,
    BestRecord,
    best_with_model,
    candidate_dir,
    check_writable,
    folder_lock,
    read_record,
    updating,
)
from autodl.runtime import devices
from autodl.runtime.log import interactive, logger
from autodl.runtime.stores import mask_url, storage_failures, study_lock, study_storage
from autodl.search import (
    Objective,
    SearchEnd,
    SearchObserver,
    SearchResult,
    SearchStart,
    best_trial,
    open_study,
    optimize,
    recover,
    warm,
)
from autodl.search.progress import SearchProgress
from autodl.search.study import find_study, finished_count
from autodl.search.workers import Workers, run_workers
from autodl.spec import Spec, objective_problem, space
from autodl.tracking import PARENT_RUN_ATTR, Tracker, open_tracker
from autodl.tracking.client import tracking_failures
from autodl.tracking.runs import log_diagnosis
from autodl.trial import folds, run_trial
from autodl.trial.weights import class_weights


def check_objective(spec: Spec, data: Dataset) -> None:
    """The objective metric must be one this task produces, and class weights name its classes."""
    problem = objective_problem(spec.search.objective.metric, data.task)
    if problem:
        raise SpecError(f"{data.name}: {problem}")
    class_weights(spec.training.class_weight, data)


@dataclass
class Prepared:
    """A search ready to run trials: its study, data, tracker and trial objective."""

    spec: Spec
    storage: str
    study: optuna.Study
    data: Dataset
    data_for: DataFor
    tracker: Tracker
    objective: Objective
    directory: Path

    def lock(self) -> AbstractContextManager[object]:
        """The study's lock, for claiming trials and opening the parent run."""
        return study_lock(self.storage, self.spec.name)

    def start(self, observers: list[SearchObserver]) -> None:
        """Tell the observers the search starts; the tracker opens (or joins) the parent run
        under the study's lock, so workers share one."""
        with self.lock():
            live = recover(self.study)
            start = SearchStart(
                self.spec.name, self.spec.text, self._tags(), self.spec.search.trials,
                finished_count(self.study), self.study.user_attrs.get(PARENT_RUN_ATTR), live,
            )
            for observer in observers:
                observer.search_started(start)
            if self.tracker.parent_run_id:
                self.study.set_user_attr(PARENT_RUN_ATTR, self.tracker.parent_run_id)

    def _tags(self) -> dict[str, str]:
        data = self.data
        tags = {"study": self.spec.name, "storage": self.storage, "data.source": data.name,
                "task": data.task}
        tags.update({f"data.{k}_size": str(v) for k, v in data.sizes().items()})
        if data.class_balance():
            tags["data.class_balance"] = json.dumps(
                {k: round(v, 4) for k, v in data.class_balance().items()}
            )
        return tags

    def save_best(self) -> Callable[[FrozenTrial, TrialOutcome], None]:
        """Save a new best model, unless another worker has found a better one meanwhile."""
        saver = BestModelSaver(self.spec, self.data_for, self.directory)

        def save(trial: FrozenTrial, outcome: TrialOutcome) -> None:
            with folder_lock(self.directory):
                best = best_trial(self.study)
                if best is not None and best.number == trial.number:
                    saver(trial, outcome)

        return save


def trial_objective(spec: Spec, data_for: DataFor) -> Objective:
    """Each trial's training: the spec's builder (a custom module imported once, here), its
    objective metric and XLA setting, on the data of the trial's configuration."""
    build = models.builder(spec.model, spec.base_dir)
    metric = spec.search.objective.metric

    cv = spec.search.cv

    def objective(
        config: Config, seed: int, should_prune: PruneCheck, listeners: list[EpochListener],
        suggest: Suggest,
    ) -> TrialOutcome:
        def run(cfg: Config, data: Dataset, prune: PruneCheck, heard: list[EpochListener],
                ask: Suggest) -> TrialOutcome:
            return run_trial(cfg, data, metric, seed, prune, heard, build, ask, spec.runtime.xla)

        if cv is None:
            return run(config, data_for(config), should_prune, listeners, suggest)
        return folds.cross_validated(run, config, data_for(config), metric, seed, should_prune, listeners,
                                     suggest, cv.folds)

    return objective


def prepare(spec: Spec) -> Prepared:
    """Open the tracking store and the study, load and check the data, set up the device."""
    tracker = open_tracker(spec.tracking, spec.search.objective.metric)
    storage = study_storage(spec)
    study = open_study(spec, storage)
    devices.apply(spec.runtime)
    loaded = load_dataset(spec.data, spec.base_dir, spec.seed)

    def data_for(config: dict[str, Any]) -> Dataset:
        return for_config(loaded, config)

    data = representative(loaded, space.candidates(spec.data.window))
    models.check_fits(spec.model, data)
    check_objective(spec, data)
    if spec.search.cv is not None:
        folds.check(data, spec.search.cv.folds)
    objective = trial_objective(spec, data_for)
    check_writable(best_dir(spec))
    logger.info(data.describe())
    return Prepared(spec, storage, study, data, data_for, tracker, objective, best_dir(spec))


def run_search(spec: Spec, quiet: bool = False, workers: Workers | None = None,
               warm_start: tuple[str, str | None] | None = None) -> SearchSummary:
    """Run (or resume) the search a spec describes, finalize and save its best model.

    With ``workers``, that many worker processes run the trials (one GPU each when there are
    GPUs) while this one follows the study, then finalizes. Either way, the search ends only once
    no other process (``autodl worker``) runs a trial of the study, then concludes on the study's
    best trial (unless interrupted: then at once). ``warm_start`` (a study name and its
    storage, default this spec's) queues that study's best configurations first, after the ones
    ``search.enqueue`` lists.
    """
    run = prepare(spec)
    queue_first(run, warm_start)
    done = finished_count(run.study)
    if done:
        logger.info("resuming study %r in %s: %d trials already finished", spec.name,
                    mask_url(run.storage), done)
    progress = SearchProgress(spec.search.objective.metric, interactive(quiet) and workers is None)
    observers: list[SearchObserver] = [run.tracker, progress]
    try:
        with storage_failures(run.storage), tracking_failures(run.tracker.uri or ""):
            run.start(observers)
            result = _trials(run, observers, workers, quiet)
            status = "KILLED" if result.stop_reason == "interrupted" else "FINISHED"
            best, diagnosis = _conclude(run, status == "FINISHED")
    except BaseException:
        for observer in observers:
            observer.search_ended(SearchEnd("FAILED"))
        raise
    end = SearchEnd(
        status, result.counts, result.stages, dict(best) if best else None,
        diagnosis.metrics() if diagnosis else {}, diagnosis.verdict if diagnosis else None,
        diagnosis.report() if diagnosis else None, run.directory if best else None,
        (EXPORT_FOLDER,), run.directory / PLOTS_DIR,
    )
    for observer in observers:
        observer.search_ended(end)
    return SearchSummary(spec, run.data, result, best, diagnosis, run.directory, run.storage,
                         run.tracker.uri, run.tracker.parent_run_id)


def queue_first(run: Prepared, warm_start: tuple[str, str | None] | None) -> None:
    """Queue the default configuration (``search.enqueue_defaults``), the spec's
    ``search.enqueue`` configurations, then a warm start's, under the study's lock; ones the
    study holds already (a resumed search) are not queued again."""
    spec = run.spec
    queued = [warm.defaults(spec, run.data.facts())[1]] if spec.search.enqueue_defaults else []
    with storage_failures(run.storage), run.lock():
        if queued:
            warm.enqueue(run.study, spec, queued, "the defaults")
        if spec.search.enqueue:
            warm.enqueue(run.study, spec, [warm.recorded(spec, c) for c in spec.search.enqueue], "search.enqueue")
        if warm_start is not None:
            name, storage = warm_start
            configs = warm.earlier_best(spec, name, storage or run.storage)
            warm.enqueue(run.study, spec, [warm.recorded(spec, c) for c in configs], f"study {name}")


def _trials(run: Prepared, observers: list[SearchObserver], workers: Workers | None,
            quiet: bool) -> SearchResult:
    """Run the trials here, or in worker processes that this process follows; either way until no
    process (``autodl worker`` started apart too) runs a trial of the study, so that the search
    concludes on the study's last trial."""
    if workers is not None:
        return run_workers(run.spec, run.study, workers, interactive(quiet), run.lock)
    return optimize(run.spec, run.study, run.objective, observers, run.save_best(), run.lock,
                    facts=run.data.facts(), wait_for_others=True)


def _conclude(run: Prepared, export: bool) -> tuple[BestRecord | None, Diagnosis | None]:
    """The end of a search, as one new version of the best-model folder: the study's best trial
    now (another process may have found a better one, and its model is waited for: see
    ``best_with_model``) with its test score, diagnosis and error analysis, the search's plots,
    and the export when the search finished. Staged under the folder's lock and swapped in whole,
    so a process killed meanwhile leaves the previous folder."""
    spec, folder = run.spec, run.directory
    with best_with_model(folder, run.study) as (best, source):
        with updating(folder, keep=(MODEL_FILE, INFO_FILE), source=source) as stage:
            record, diagnosis = finalize(spec, run.data_for, stage, best) if best is not None else (None, None)
            search_plots(run.study, spec, stage / PLOTS_DIR)
            if record is not None and export:
                after_search(spec, record, run.data_for(record["config"]), run.tracker.parent_run_id, stage)
        shutil.rmtree(candidate_dir(folder), ignore_errors=True)
    return record, diagnosis


@dataclass(frozen=True)
class Diagnosed:
    """What ``autodl diagnose`` found: the redone diagnosis, its learning curve and where they are."""

    diagnosis: Diagnosis
    curve: LearningCurve
    directory: Path
    parent_run_id: str | None


def run_diagnose(spec: Spec) -> Diagnosed:
    """``autodl diagnose``: retrain the saved best configuration on growing shares of train, redo
    the diagnosis with the learning curve, and add both to the best-model folder and MLflow."""
    directory = best_dir(spec)
    record = read_record(directory)
    if record is None or "config" not in record:
        raise AutodlError(f"No best model in {directory}: run `autodl search SPEC` first (or set export.dir).")
    devices.apply(spec.runtime)
    data = for_config(load_dataset(spec.data, spec.base_dir, spec.seed), record["config"])
    _, diagnosis, curve = rediagnose(spec, data, directory)
    study = find_study(spec.name, study_storage(spec))
    parent = study.user_attrs.get(PARENT_RUN_ATTR) if study is not None else None
    if spec.tracking.enabled and parent:
        log_diagnosis(spec.tracking.uri, parent, diagnosis.metrics(), diagnosis.verdict, diagnosis.report(),
                      [directory / CURVE_FILE, directory / DIAGNOSIS_FILE])
    return Diagnosed(diagnosis, curve, directory, parent if spec.tracking.enabled else None)


def run_worker(spec: Spec, quiet: bool = False) -> SearchResult:
    """Join the study as one more worker: run trials until a budget is spent, or until
    ``runtime.trials_per_process`` trials (``autodl search`` then starts a fresh worker).

    Each new best trial's model goes to the candidate folder; the search's conclusion (test
    evaluation, diagnosis, export: the best-model folder) is left to ``autodl search``, which
    waits for the trials workers run, so it concludes on the study's best trial when the last one
    ends. Workers run without a search leave it to ``autodl search SPEC`` run after them: it finds
    the budget spent and concludes.
    """
    run = prepare(spec)
    progress = SearchProgress(spec.search.objective.metric, False)
    observers: list[SearchObserver] = [run.tracker, progress]
    with storage_failures(run.storage), tracking_failures(run.tracker.uri or ""):
        run.start(observers)
        return optimize(spec, run.study, run.objective, observers, run.save_best(), run.lock,
                        spec.runtime.trials_per_process, run.data.facts())
