"""MLflow tracking: a parent run per search, a nested run per trial, per-epoch metric histories.

Uses ``MlflowClient`` only (no fluent global state). Both trackers implement the search's
observer protocol (search start, trial start and end, search end); ``NullTracker`` stands in when
tracking is off. The store is checked before any training so an unreachable server fails fast.

The experiment is tagged as a model-training one, so MLflow's UI shows its training runs; every
run carries a description; each trial run and its Optuna trial name each other (the ``trial`` tag,
the trial's ``mlflow_run_id`` attribute).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Protocol

from autodl.errors import TrackingError
from autodl.outcome import EpochListener, TrialOutcome
from autodl.runtime.stores import mask_url, sqlite_path
from autodl.search.loop import SearchEnd, SearchObserver, SearchStart
from autodl.search.study import REASON_ATTRS
from autodl.spec.sections import TrackingSpec
from autodl.tracking.client import connected_client, prepare_mlflow
from autodl.tracking.descriptions import (
    NOTE_TAG,
    running_search,
    running_trial,
    search_description,
    trial_description,
    trial_run_name,
)
from autodl.tracking.system import SystemMetrics

PARENT_RUN_ATTR = "mlflow_parent_run_id"
RUN_ATTR = "mlflow_run_id"
"""Optuna trial attribute: the id of the trial's MLflow run."""
TRIAL_TAG = "trial"
"""MLflow trial-run tag: the Optuna trial number."""
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
"""The experiment tag with which MLflow's UI treats an experiment as model training (its own
bundle's value), not as a GenAI app."""
RUN_STATUS = {"complete": "FINISHED", "pruned": "FINISHED", "failed": "FAILED", "infeasible": "FINISHED"}


def _param_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


class Tracker(SearchObserver, Protocol):
    """Where a search is recorded: the store's URI (``None`` when off) and the parent run."""

    @property
    def uri(self) -> str | None: ...

    @property
    def parent_run_id(self) -> str | None: ...


class NullTracker:
    """Tracking switched off: every call does nothing."""

    uri: str | None = None
    parent_run_id: str | None = None

    def search_started(self, start: SearchStart) -> None:
        return None

    def trial_started(
        self, number: int, params: dict[str, Any], seed: int, tags: dict[str, str]
    ) -> EpochListener:
        return lambda epoch, metrics: None

    def trial_attributes(self, number: int) -> dict[str, Any]:
        return {}

    def trial_finished(self, number: int, outcome: TrialOutcome) -> None:
        return None

    def search_ended(self, end: SearchEnd) -> None:
        return None


class MlflowTracker:
    """Logs a search of the objective ``metric`` to the MLflow store at ``uri``; with
    ``system_metrics``, each trial run gets the machine's CPU, memory (and GPU) use while it
    trains."""

    def __init__(self, uri: str, metric: str, system_metrics: bool = False) -> None:
        self.uri = uri
        self.metric = metric
        self.client = connected_client(uri)
        self.experiment_id: str | None = None
        self.parent_run_id: str | None = None
        self._trial_runs: dict[int, str] = {}
        self._study = ""
        self._total = 0
        self._system = SystemMetrics(prepare_mlflow(uri)) if system_metrics else None

    def _parent(self) -> tuple[str, str]:
        """The experiment and the parent run; trial and end calls need ``search_started`` first."""
        if self.experiment_id is None or self.parent_run_id is None:
            raise TrackingError("MLflow tracking was used before the search's parent run was opened.")
        return self.experiment_id, self.parent_run_id

    def _experiment(self, name: str) -> str:
        """The experiment named ``name``, created or reused, tagged as a model-training one."""
        key, kind = EXPERIMENT_KIND
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            if found.tags.get(key) != kind:
                self.client.set_experiment_tag(found.experiment_id, key, kind)
            return str(found.experiment_id)
        db = sqlite_path(self.uri)
        location = (db.parent.resolve() / "artifacts").as_uri() if db is not None else None
        return str(self.client.create_experiment(name, artifact_location=location, tags={key: kind}))

    def search_started(self, start: SearchStart) -> None:
        """Open the parent run (reopening ``start.resume_run_id`` when it still exists), or join
        it from another worker.

        Trial runs left running are closed as failed, except those of ``start.live`` trials,
        which other workers are still running.
        """
        self._study, self._total = start.name, start.total
        self.experiment_id = self._experiment(start.name)
        run_id = None
        if start.resume_run_id:
            try:
                self.client.get_run(start.resume_run_id)
                run_id = start.resume_run_id
                self.client.update_run(run_id, status="RUNNING")
            except Exception:  # deleted or from another store: start a fresh parent
                run_id = None
        if run_id is None:
            run_id = self.client.create_run(self.experiment_id, run_name=f"{start.name}-search").info.run_id
        for key, value in start.tags.items():
            self.client.set_tag(run_id, key, mask_url(value))
        self.client.set_tag(run_id, NOTE_TAG, running_search(start.name, start.done, start.total))
        self.parent_run_id = run_id
        self._close_orphans(start.live)
        self.client.log_text(run_id, start.spec_text, "spec.yaml")

    def _close_orphans(self, live: frozenset[int]) -> None:
        """Trial runs a killed search left running are closed as failed when it resumes."""
        experiment, parent = self._parent()
        orphans = self.client.search_runs(
            [experiment],
            filter_string=f"tags.mlflow.parentRunId = '{parent}' and tags.state = 'running'",
        )
        for run in orphans:
            number = run.data.tags.get(TRIAL_TAG, "")
            if number.isdigit() and int(number) in live:
                continue
            lost = TrialOutcome("failed", reason="the search was killed during this trial")
            self.client.set_tag(run.info.run_id, "state", "failed")
            self.client.set_tag(run.info.run_id, REASON_ATTRS["failed"], lost.reason)
            if number.isdigit():
                self.client.set_tag(run.info.run_id, NOTE_TAG,
                                    trial_description(int(number), lost, self.metric, self._study))
            self.client.set_terminated(run.info.run_id, status="FAILED")

    def trial_started(
        self, number: int, params: dict[str, Any], seed: int, tags: dict[str, str]
    ) -> EpochListener:
        """Create the trial's nested run with its parameters; return its per-epoch logger."""
        from mlflow.entities import Metric, Param, RunTag

        experiment, parent = self._parent()
        run = self.client.create_run(
            experiment,
            run_name=trial_run_name(number, self._total),
            tags={"mlflow.parentRunId": parent, TRIAL_TAG: str(number), "seed": str(seed), **tags},
        )
        run_id = run.info.run_id
        self._trial_runs[number] = run_id
        self.client.log_batch(
            run_id,
            params=[Param(k, _param_value(v)) for k, v in params.items()],
            tags=[RunTag("state", "running"), RunTag(NOTE_TAG, running_trial(number, self._study))],
        )
        if self._system is not None:
            self._system.start(run_id)

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            now = int(time.time() * 1000)
            self.client.log_batch(
                run_id, metrics=[Metric(k, v, now, epoch) for k, v in metrics.items()]
            )

        return on_epoch

    def trial_attributes(self, number: int) -> dict[str, Any]:
        """The trial's MLflow run id, recorded on its Optuna trial."""
        run_id = self._trial_runs.get(number)
        return {RUN_ATTR: run_id} if run_id else {}

    def trial_finished(self, number: int, outcome: TrialOutcome) -> None:
        """Final measurements, hyperparameters sampled while building, state and why, the
        description, end status."""
        from mlflow.entities import Metric, Param, RunTag

        run_id = self._trial_runs.pop(number)
        if self._system is not None:
            self._system.stop(run_id)
        now = int(time.time() * 1000)
        final = dict(outcome.metrics)
        final.update(outcome.facts)
        final.update(duration_s=outcome.duration_s, epochs=outcome.epochs, params_count=outcome.params_count)
        if outcome.pruned_epoch is not None:
            final["pruned_epoch"] = outcome.pruned_epoch
        tags = [RunTag("state", outcome.state),
                RunTag(NOTE_TAG, trial_description(number, outcome, self.metric, self._study))]
        if outcome.reason:
            tags.append(RunTag(REASON_ATTRS[outcome.state], outcome.reason[:5000]))
        step = outcome.epochs
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, step) for k, v in final.items()],
            params=[Param(k, _param_value(v)) for k, v in outcome.params.items()],
            tags=tags,
        )
        if outcome.summary:
            self.client.log_text(run_id, outcome.summary, "model_summary.txt")
        self.client.set_terminated(run_id, status=RUN_STATUS[outcome.state])

    def search_ended(self, end: SearchEnd) -> None:
        """Best trial (tags, metrics, JSON), diagnosis, trial counts, coarse-to-fine stage spaces,
        the saved model with its analysis, the search's plots; close the parent with
        ``end.status`` (FINISHED, KILLED on Ctrl-C, FAILED).

        The ``plots`` folder goes under ``plots/`` (once, even when it sits inside ``folder``);
        hidden files of ``folder``, and the names in ``folder_skips`` (the deployable export,
        logged as a model of its own), are left out.
        """
        from mlflow.entities import Metric, RunTag

        _, run_id = self._parent()
        now = int(time.time() * 1000)
        metrics = [Metric(f"trials_{state}", float(n), now, 0) for state, n in end.counts.items()]
        tags: list[RunTag] = []
        best = end.best
        if best is not None:
            metrics += [Metric(f"best_{k}", float(v), now, 0) for k, v in best["metrics"].items()]
            tags = [RunTag("best_trial", str(best["trial"]))]
            tags += [RunTag(f"best.{k}", _param_value(v)) for k, v in best["hyperparameters"].items()]
            self.client.log_dict(run_id, best, "best_trial.json")
        if end.stages:
            self.client.log_dict(run_id, {f"stage {k}": v for k, v in end.stages.items()}, "stages.json")
        metrics += [Metric(f"diagnosis.{k}", float(v), now, 0) for k, v in end.diagnosis_metrics.items()]
        if end.verdict is not None:
            tags.append(RunTag("diagnosis", end.verdict))
        if end.diagnosis_report is not None:
            self.client.log_text(run_id, end.diagnosis_report, "diagnosis.md")
        self.client.log_batch(run_id, metrics=metrics, tags=tags)
        self._log_folder(run_id, end)
        best_run = trial_run_name(best["trial"], self._total) if best is not None else None
        note = search_description(self._study, end, best_run, self._latest_model(run_id))
        self.client.set_tag(run_id, NOTE_TAG, note)
        self.client.set_terminated(run_id, status=end.status)

    def _latest_model(self, run_id: str) -> list[str]:
        """The URI of the newest model logged from the parent run (the export), if there is one."""
        experiment, _ = self._parent()
        found = self.client.search_logged_models(
            [experiment], filter_string=f"source_run_id = '{run_id}'",
            order_by=[{"field_name": "creation_timestamp", "ascending": False}], max_results=1,
        )
        return [model.model_uri for model in found]

    def _log_folder(self, run_id: str, end: SearchEnd) -> None:
        """The best-model folder under ``best_model/`` and the plots under ``plots/``."""
        plots, folder = end.plots, end.folder
        if folder is not None and folder.is_dir():
            for item in sorted(folder.iterdir()):
                hidden = item.name.startswith(".")  # lock and staging files
                is_plots = plots is not None and item.resolve() == plots.resolve()
                if hidden or item.name in end.folder_skips or is_plots:
                    continue
                if item.is_dir():
                    self.client.log_artifacts(run_id, str(item), f"best_model/{item.name}")
                else:
                    self.client.log_artifact(run_id, str(item), "best_model")
        if plots is not None and plots.is_dir():
            self.client.log_artifacts(run_id, str(plots), "plots")


def log_diagnosis(uri: str, run_id: str, metrics: dict[str, float], verdict: str, report: str,
                  files: list[Path]) -> None:
    """Add a redone diagnosis (``autodl diagnose``) to a search's parent run: its metrics, verdict,
    ``diagnosis.md`` and the files beside it (the learning curve) under ``best_model/``."""
    from mlflow.entities import Metric, RunTag

    client = connected_client(uri)
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(f"diagnosis.{k}", float(v), now, 0) for k, v in metrics.items()],
                     tags=[RunTag("diagnosis", verdict)])
    client.log_text(run_id, report, "diagnosis.md")
    for path in files:
        if path.is_file():
            client.log_artifact(run_id, str(path), "best_model")


def open_tracker(tracking: TrackingSpec, metric: str) -> Tracker:
    """The tracker for a spec's ``tracking`` section and objective ``metric``."""
    if not tracking.enabled:
        return NullTracker()
    return MlflowTracker(tracking.uri, metric, tracking.system_metrics)
