"""MLflow tracking: a parent run per search, a nested run per trial, per-epoch metric histories.

Uses ``MlflowClient`` only (no fluent global state). ``NullTracker`` stands in when tracking is
off. The store is checked before any training so an unreachable server fails fast.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from autodl.diagnostics import Diagnosis
from autodl.errors import TrackingError
from autodl.export import EXPORT_FOLDER
from autodl.outcome import EpochListener, TrialOutcome
from autodl.stores import absolute, mask_url, prepare_sqlite, sqlite_path

PARENT_RUN_ATTR = "mlflow_parent_run_id"
RUN_STATUS = {"complete": "FINISHED", "pruned": "FINISHED", "failed": "FAILED", "infeasible": "FINISHED"}


def _param_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


class NullTracker:
    """Tracking switched off: every call does nothing."""

    uri: str | None = None
    parent_run_id: str | None = None

    def start_search(
        self, name: str, spec_text: str, tags: dict[str, str], resume_run_id: str | None,
        live: frozenset[int] = frozenset(),
    ) -> None:
        return None

    def trial_started(
        self, number: int, params: dict[str, Any], seed: int, tags: dict[str, str]
    ) -> EpochListener:
        return lambda epoch, metrics: None

    def trial_finished(self, number: int, outcome: TrialOutcome) -> None:
        return None

    def end_search(
        self, best: dict[str, Any] | None, diagnosis: Diagnosis | None, counts: dict[str, int],
        stages: dict[int, dict[str, str]], export_dir: Path | None, status: str,
        plots: Path | None = None,
    ) -> None:
        return None


class MlflowTracker:
    """Logs a search to the MLflow store at ``uri``."""

    def __init__(self, uri: str) -> None:
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        from mlflow.tracking import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        prepare_sqlite(uri)
        self.uri = uri
        self.client = MlflowClient(tracking_uri=absolute(uri))
        try:
            self.client.search_experiments(max_results=1)
        except Exception as exc:  # connection, auth and database errors all land here
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TrackingError(
                f"Cannot reach the MLflow tracking store {mask_url(uri)}: {mask_url(first)}. "
                "Start the server, fix tracking.uri / --tracking-uri, or set tracking.enabled: "
                "false."
            ) from None
        self.experiment_id: str | None = None
        self.parent_run_id: str | None = None
        self._trial_runs: dict[int, str] = {}

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        db = sqlite_path(self.uri)
        location = (db.parent.resolve() / "artifacts").as_uri() if db is not None else None
        return self.client.create_experiment(name, artifact_location=location)

    def start_search(
        self, name: str, spec_text: str, tags: dict[str, str], resume_run_id: str | None,
        live: frozenset[int] = frozenset(),
    ) -> str:
        """Open the parent run (reopening ``resume_run_id`` when it still exists), or join it from
        another worker.

        Trial runs left running are closed as failed, except those of ``live`` trials, which
        other workers are still running.
        """
        self.experiment_id = self._experiment(name)
        run_id = None
        if resume_run_id:
            try:
                self.client.get_run(resume_run_id)
                run_id = resume_run_id
                self.client.update_run(run_id, status="RUNNING")
            except Exception:  # deleted or from another store: start a fresh parent
                run_id = None
        if run_id is None:
            run_id = self.client.create_run(self.experiment_id, run_name=f"{name}-search").info.run_id
        for key, value in tags.items():
            self.client.set_tag(run_id, key, mask_url(value))
        self._close_orphans(run_id, live)
        self.client.log_text(run_id, spec_text, "spec.yaml")
        self.parent_run_id = run_id
        return run_id

    def _close_orphans(self, parent: str, live: frozenset[int]) -> None:
        """Trial runs a killed search left running are closed as failed when it resumes."""
        assert self.experiment_id is not None
        orphans = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{parent}' and tags.state = 'running'",
        )
        for run in orphans:
            if run.data.tags.get("trial", "").isdigit() and int(run.data.tags["trial"]) in live:
                continue
            self.client.set_tag(run.info.run_id, "state", "failed")
            self.client.set_tag(run.info.run_id, "fail_reason", "the search was killed during this trial")
            self.client.set_terminated(run.info.run_id, status="FAILED")

    def trial_started(
        self, number: int, params: dict[str, Any], seed: int, tags: dict[str, str]
    ) -> EpochListener:
        """Create the trial's nested run with its parameters; return its per-epoch logger."""
        from mlflow.entities import Metric, Param, RunTag

        assert self.experiment_id is not None and self.parent_run_id is not None
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"trial-{number}",
            tags={"mlflow.parentRunId": self.parent_run_id, "trial": str(number), "seed": str(seed),
                  **tags},
        )
        run_id = run.info.run_id
        self._trial_runs[number] = run_id
        self.client.log_batch(
            run_id,
            params=[Param(k, _param_value(v)) for k, v in params.items()],
            tags=[RunTag("state", "running")],
        )

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            now = int(time.time() * 1000)
            self.client.log_batch(
                run_id, metrics=[Metric(k, v, now, epoch) for k, v in metrics.items()]
            )

        return on_epoch

    def trial_finished(self, number: int, outcome: TrialOutcome) -> None:
        """Final measurements, hyperparameters sampled while building, state, end status."""
        from mlflow.entities import Metric, Param, RunTag

        run_id = self._trial_runs.pop(number)
        now = int(time.time() * 1000)
        final = dict(outcome.metrics)
        final.update(duration_s=outcome.duration_s, epochs=outcome.epochs, params_count=outcome.params_count)
        if outcome.pruned_epoch is not None:
            final["pruned_epoch"] = outcome.pruned_epoch
        tags = [RunTag("state", outcome.state)]
        if outcome.reason:
            key = "fail_reason" if outcome.state == "failed" else "infeasible_reason"
            tags.append(RunTag(key, outcome.reason[:5000]))
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

    def end_search(
        self, best: dict[str, Any] | None, diagnosis: Diagnosis | None, counts: dict[str, int],
        stages: dict[int, dict[str, str]], export_dir: Path | None, status: str,
        plots: Path | None = None,
    ) -> None:
        """Best trial (tags, metrics, JSON), diagnosis, trial counts, coarse-to-fine stage spaces,
        the saved model with its analysis, the search's plots; close the parent.

        ``status`` is MLflow's end status: FINISHED, KILLED (Ctrl-C) or FAILED. The ``plots``
        folder goes under ``plots/`` (once, even when it sits inside ``export_dir``); hidden files
        of ``export_dir``, and the deployable export (logged as a model of its own), are left out.
        """
        from mlflow.entities import Metric, RunTag

        run_id = self.parent_run_id
        assert run_id is not None
        now = int(time.time() * 1000)
        metrics = [Metric(f"trials_{state}", float(n), now, 0) for state, n in counts.items()]
        tags: list[RunTag] = []
        if best is not None:
            metrics += [Metric(f"best_{k}", float(v), now, 0) for k, v in best["metrics"].items()]
            tags = [RunTag("best_trial", str(best["trial"]))]
            tags += [RunTag(f"best.{k}", _param_value(v)) for k, v in best["hyperparameters"].items()]
            self.client.log_dict(run_id, best, "best_trial.json")
        if stages:
            self.client.log_dict(run_id, {f"stage {k}": v for k, v in stages.items()}, "stages.json")
        if diagnosis is not None:
            metrics += [Metric(f"diagnosis.{k}", float(v), now, 0) for k, v in diagnosis.metrics().items()]
            tags.append(RunTag("diagnosis", diagnosis.verdict))
            self.client.log_text(run_id, diagnosis.report(), "diagnosis.md")
        self.client.log_batch(run_id, metrics=metrics, tags=tags)
        if export_dir is not None and export_dir.is_dir():
            for item in sorted(export_dir.iterdir()):
                hidden = item.name.startswith(".")  # lock and staging files
                exported = item.name == EXPORT_FOLDER  # logged as an MLflow model by ``publish``
                if hidden or exported or (plots is not None and item.resolve() == plots.resolve()):
                    continue
                if item.is_dir():
                    self.client.log_artifacts(run_id, str(item), f"best_model/{item.name}")
                else:
                    self.client.log_artifact(run_id, str(item), "best_model")
        if plots is not None and plots.is_dir():
            self.client.log_artifacts(run_id, str(plots), "plots")
        self.client.set_terminated(run_id, status=status)


def open_tracker(enabled: bool, uri: str) -> MlflowTracker | NullTracker:
    """The tracker for a spec's ``tracking`` section."""
    return MlflowTracker(uri) if enabled else NullTracker()
