"""One search from a validated spec to a saved best model: the stages wired in order.

The CLI calls ``run_search``; each stage lives in its own module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autodl import bundle, devices, models, space
from autodl.data import Dataset, SeriesData, load_dataset
from autodl.diagnostics import Diagnosis
from autodl.errors import SpecError
from autodl.export import BestModelSaver, DataFor, export_dir
from autodl.final import finalize
from autodl.log import interactive, logger
from autodl.outcome import EpochListener, PruneCheck, Suggest, TrialOutcome
from autodl.parallel import Workers, run_workers
from autodl.plots import PLOTS_DIR, search_plots
from autodl.progress import SearchProgress
from autodl.search import (
    FINISHED,
    SearchResult,
    best_trial,
    open_study,
    optimize,
    recover,
)
from autodl.spec import Spec, objective_problem
from autodl.stores import default_storage, file_lock, mask_url, study_lock
from autodl.tracking import PARENT_RUN_ATTR, open_tracker


@dataclass
class SearchSummary:
    """Everything the final report shows."""

    spec: Spec
    data: Dataset
    result: SearchResult
    best: dict[str, Any] | None
    diagnosis: Diagnosis | None
    export_dir: Path
    storage: str
    tracking_uri: str | None
    parent_run_id: str | None


def check_objective(spec: Spec, data: Dataset) -> None:
    """The objective metric must be one this task produces."""
    problem = objective_problem(spec.search.objective.metric, data.task)
    if problem:
        raise SpecError(f"{data.name}: {problem}")


def describe_data(data: Dataset) -> str:
    """One line: source, kind, task, split sizes and class balance."""
    sizes = ", ".join(f"{k} {v}" for k, v in data.sizes().items())
    balance = data.class_balance()
    classes = ""
    if balance:
        shown = ", ".join(f"{k}: {v:.0%}" for k, v in list(balance.items())[:10])
        classes = f"; {len(balance)} classes in train ({shown}{', ...' if len(balance) > 10 else ''})"
    return f"data {data.name}: {data.kind}, {data.task}; {sizes}{classes}"


def _trial_data(loaded: Dataset | SeriesData, spec: Spec) -> tuple[Dataset, DataFor]:
    """The data to check and describe, and the data each trial trains on.

    A time series is cut into windows of the trial's ``data.window``; the shortest window the
    space allows stands for it in the checks.
    """
    if isinstance(loaded, SeriesData):
        shortest = min(space.candidates(spec.data.window))
        return loaded.windows(shortest), lambda config: loaded.windows(config["data"]["window"])
    return loaded, lambda config: loaded


@dataclass
class Prepared:
    """A search ready to run trials: its study, data, tracker and trial objective."""

    spec: Spec
    storage: str
    study: Any
    data: Dataset
    data_for: DataFor
    tracker: Any
    objective: Any
    directory: Path

    def lock(self) -> Any:
        """The study's lock, for claiming trials and opening the parent run."""
        return study_lock(self.storage, self.spec.name)

    def start_tracking(self) -> None:
        """Open (or join) the parent run under the study's lock, so workers share one."""
        data = self.data
        tags = {"study": self.spec.name, "storage": self.storage, "data.source": data.name,
                "task": data.task}
        tags.update({f"data.{k}_size": str(v) for k, v in data.sizes().items()})
        if data.class_balance():
            tags["data.class_balance"] = json.dumps(
                {k: round(v, 4) for k, v in data.class_balance().items()}
            )
        with self.lock():
            live = recover(self.study)
            parent = self.tracker.start_search(
                self.spec.name, self.spec.text, tags, self.study.user_attrs.get(PARENT_RUN_ATTR), live
            )
            if parent:
                self.study.set_user_attr(PARENT_RUN_ATTR, parent)

    def save_best(self) -> Callable[[Any, TrialOutcome], None]:
        """Save a new best model, unless another worker has found a better one meanwhile."""
        saver = BestModelSaver(self.spec, self.data_for, self.directory)

        def save(trial: Any, outcome: TrialOutcome) -> None:
            self.directory.mkdir(parents=True, exist_ok=True)
            with file_lock(self.directory.parent / f".{self.directory.name}.lock"):
                best = best_trial(self.study)
                if best is not None and best.number == trial.number:
                    saver(trial, outcome)

        return save


def prepare(spec: Spec) -> Prepared:
    """Open the tracking store and the study, load and check the data, set up the device."""
    tracker = open_tracker(spec.tracking.enabled, spec.tracking.uri)
    storage = spec.search.storage or default_storage(
        spec.tracking.uri if spec.tracking.enabled else None
    )
    study = open_study(spec, storage)
    devices.apply(spec.runtime)
    data, data_for = _trial_data(load_dataset(spec.data, spec.base_dir, spec.seed), spec)
    models.check_fits(spec.model, data)
    check_objective(spec, data)
    logger.info(describe_data(data))
    build = models.builder(spec.model, spec.base_dir)
    from autodl import training

    metric = spec.search.objective.metric
    jit_compile = spec.runtime.xla

    def objective(
        config: dict[str, dict[str, Any]],
        seed: int,
        should_prune: PruneCheck,
        listeners: list[EpochListener],
        suggest: Suggest,
    ) -> TrialOutcome:
        return training.run_trial(
            config, data_for(config), metric, seed, should_prune, listeners, build, suggest,
            jit_compile,
        )

    return Prepared(spec, storage, study, data, data_for, tracker, objective, export_dir(spec))


def run_search(spec: Spec, quiet: bool = False, workers: Workers | None = None) -> SearchSummary:
    """Run (or resume) the search a spec describes, finalize and save its best model.

    With ``workers``, that many worker processes run the trials (one GPU each when there are
    GPUs) while this one follows the study, then finalizes.
    """
    run = prepare(spec)
    study = run.study
    done = len(study.get_trials(deepcopy=False, states=FINISHED))
    if done:
        logger.info("resuming study %r in %s: %d trials already finished", spec.name,
                    mask_url(run.storage), done)
    run.start_tracking()
    metric = spec.search.objective.metric
    try:
        if workers is not None:
            result = run_workers(spec, study, workers, interactive(quiet))
        else:
            with SearchProgress(spec.search.trials, done, metric, interactive(quiet)) as progress:
                result = optimize(spec, study, run.objective, [run.tracker, progress],
                                  run.save_best(), run.lock)
        best_trial_found = result.best
        best, diagnosis = (
            finalize(spec, run.data_for, run.directory, best_trial_found)
            if best_trial_found else (None, None)
        )
        plots = search_plots(study, spec, run.directory / PLOTS_DIR)
    except BaseException:
        run.tracker.end_search(None, None, {}, {}, None, "FAILED")
        raise
    status = "KILLED" if result.stop_reason == "interrupted" else "FINISHED"
    run.tracker.end_search(best, diagnosis, result.counts, result.stages,
                           run.directory if best else None, status, plots.folder)
    if best is not None and status == "FINISHED":
        bundle.after_search(spec, best, run.data_for(best["config"]), run.tracker.parent_run_id)
    return SearchSummary(
        spec, run.data, result, best, diagnosis, run.directory, run.storage, run.tracker.uri,
        run.tracker.parent_run_id,
    )


def run_worker(spec: Spec, quiet: bool = False) -> SearchResult:
    """Join the study as one more worker: run trials until a budget is spent, or until
    ``runtime.trials_per_process`` trials (``autodl search`` then starts a fresh worker).

    The search's finalizing (test evaluation, diagnosis) is left to ``autodl search``.
    """
    run = prepare(spec)
    run.start_tracking()
    progress = SearchProgress(spec.search.trials, 0, spec.search.objective.metric, False)
    return optimize(spec, run.study, run.objective, [run.tracker, progress], run.save_best(),
                    run.lock, spec.runtime.trials_per_process)
