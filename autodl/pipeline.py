"""One search from a validated spec to a saved best model: the stages wired in order.

The CLI calls ``run_search``; each stage lives in its own module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autodl import models, space
from autodl.data import Dataset, SeriesData, load_dataset
from autodl.diagnostics import Diagnosis
from autodl.errors import SpecError
from autodl.export import BestModelSaver, DataFor, export_dir
from autodl.final import finalize
from autodl.log import interactive, logger
from autodl.outcome import EpochListener, PruneCheck, Suggest, TrialOutcome
from autodl.progress import SearchProgress
from autodl.search import FINISHED, SearchResult, open_study, optimize
from autodl.spec import Spec, objective_problem
from autodl.stores import default_storage, mask_url
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


def run_search(spec: Spec, quiet: bool = False) -> SearchSummary:
    """Run (or resume) the search a spec describes and save its best model."""
    tracker = open_tracker(spec.tracking.enabled, spec.tracking.uri)
    storage = spec.search.storage or default_storage(
        spec.tracking.uri if spec.tracking.enabled else None
    )
    study = open_study(spec, storage)
    data, data_for = _trial_data(load_dataset(spec.data, spec.base_dir, spec.seed), spec)
    models.check_fits(spec.model, data)
    check_objective(spec, data)
    logger.info(describe_data(data))
    done = len(study.get_trials(deepcopy=False, states=FINISHED))
    if done:
        logger.info("resuming study %r in %s: %d trials already finished", spec.name, mask_url(storage), done)

    build = models.builder(spec.model, spec.base_dir)
    from autodl import training

    metric = spec.search.objective.metric

    def objective(
        config: dict[str, dict[str, Any]],
        seed: int,
        should_prune: PruneCheck,
        listeners: list[EpochListener],
        suggest: Suggest,
    ) -> TrialOutcome:
        return training.run_trial(
            config, data_for(config), metric, seed, should_prune, listeners, build, suggest
        )

    directory = export_dir(spec)
    tags = {"study": spec.name, "storage": storage, "data.source": data.name, "task": data.task}
    tags.update({f"data.{k}_size": str(v) for k, v in data.sizes().items()})
    if data.class_balance():
        tags["data.class_balance"] = json.dumps({k: round(v, 4) for k, v in data.class_balance().items()})
    parent = tracker.start_search(spec.name, spec.text, tags, study.user_attrs.get(PARENT_RUN_ATTR))
    if parent:
        study.set_user_attr(PARENT_RUN_ATTR, parent)
    try:
        with SearchProgress(spec.search.trials, done, metric, interactive(quiet)) as progress:
            saver = BestModelSaver(spec, data_for, directory)
            result = optimize(spec, study, objective, [tracker, progress], saver)
        best_trial = result.best
        best, diagnosis = finalize(spec, data_for, directory, best_trial) if best_trial else (None, None)
    except BaseException:
        tracker.end_search(None, None, {}, {}, None, "FAILED")
        raise
    status = "KILLED" if result.stop_reason == "interrupted" else "FINISHED"
    tracker.end_search(best, diagnosis, result.counts, result.stages, directory if best else None, status)
    return SearchSummary(
        spec, data, result, best, diagnosis, directory, storage, tracker.uri, tracker.parent_run_id
    )
