"""Through the real search loop and MLflow tracker (a fake objective, no
training): every ending a trial can have reaches its MLflow run's description with its why (a
pruned trial's value against the median pruner's threshold, the failure's reason, the broken
constraint), the run and the Optuna trial name each other, and the runs sort by trial number."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from autodl.outcome import TrialOutcome
from autodl.search.loop import SearchEnd, SearchStart, optimize
from autodl.search.study import count_states, open_study
from autodl.spec.document import load_spec
from autodl.tracking.runs import MlflowTracker
from tests.helpers import by_filters, curve_objective, minimal_spec, mlflow_store

TRIALS = 16


def objective(config: dict[str, Any], seed: int, should_prune: Any, listeners: Any, suggest: Any) -> TrialOutcome:
    """Three blocks fail; the curve of ``by_filters`` otherwise, each filter costing 50 parameters."""
    if config["model"]["blocks"] == 3:
        raise ValueError("bad shape")
    outcome = curve_objective(by_filters)(config, seed, should_prune, listeners, suggest)
    if outcome.state == "complete":
        outcome.metrics["params"] = config["model"]["filters"] * 50.0
    return outcome


def test_each_trial_run_says_how_it_ended_and_why(project: Path, write_spec: Any) -> None:
    from mlflow.tracking import MlflowClient

    spec = load_spec(write_spec(minimal_spec(
        name="why", model={"family": "cnn", "blocks": {"int": [1, 3]}, "filters": {"choice": [16, 32, 64]}},
        training={"epochs": 4}, tracking={"enabled": False},
        search={"trials": TRIALS, "pruner": {"name": "median", "warmup_epochs": 0, "startup_trials": 2},
                "constraints": {"params": 2500}},
    )))
    tracker = MlflowTracker("sqlite:///mlruns/mlflow.db", "dev_accuracy")
    tracker.search_started(SearchStart("why", "", {}, total=TRIALS, done=0))
    study = open_study(spec, f"sqlite:///{project / 'optuna.db'}")
    optimize(spec, study, objective, [tracker], lambda t, o: None)
    tracker.search_ended(SearchEnd("FINISHED", count_states(study)))

    client = MlflowClient(mlflow_store())
    assert study.metric_names == ["dev_accuracy"]
    seen: set[str] = set()
    for trial in study.trials:
        run = client.get_run(trial.user_attrs["mlflow_run_id"])
        tags = run.data.tags
        assert tags["trial"] == str(trial.number) and run.info.run_name == f"trial-{trial.number:03d}"
        assert tags["mlflow.parentRunId"] == tracker.parent_run_id
        state = trial.user_attrs["state"]
        seen.add(state)
        note = tags["mlflow.note.content"]
        assert note.startswith(f"**{state}**") and note.endswith(
            f"Optuna trial #{trial.number} of study `why` (`autodl dashboard SPEC` shows the study).")
        if state == "pruned":
            epoch = trial.user_attrs["pruned_epoch"]
            reason = trial.user_attrs["prune_reason"]
            assert reason.startswith(f"dev_accuracy {trial.intermediate_values[epoch]:.4g} at epoch {epoch}; ")
            assert " is below the median of the " in reason and f"trials at epoch {epoch}, " in reason
            assert tags["prune_reason"] == reason and note.startswith(f"**pruned**: {reason}. ")
            assert run.data.metrics["pruned_epoch"] == epoch
        elif state == "failed":
            assert note.startswith("**failed**: ValueError: bad shape. ")
            assert tags["fail_reason"] == "ValueError: bad shape"
            assert run.info.status == "FAILED"
        elif state == "infeasible":
            assert trial.user_attrs["config"]["model"]["filters"] == 64
            assert tags["infeasible_reason"] == "breaks params 3200 > 2500"
            assert "but it breaks params 3200 > 2500 (`search.constraints`), so it is never the best model." in note
        else:
            assert note.startswith(f"**complete** after 4 epochs: dev_accuracy = {trial.value:.4g}.")
    assert seen == {"complete", "pruned", "failed", "infeasible"}, "each ending needs a trial"
    children = [r for r in client.search_runs([tracker.experiment_id]) if "mlflow.parentRunId" in r.data.tags]
    by_name = sorted(children, key=lambda r: r.info.run_name)
    assert [int(r.data.tags["trial"]) for r in by_name] == list(range(TRIALS)), "names sort by trial number"
    parent = client.get_run(tracker.parent_run_id).data.tags["mlflow.note.content"]
    counts = count_states(study)
    assert (f"**Trials:** {counts['complete']} complete ({counts['infeasible']} infeasible), {counts['pruned']} "
            f"pruned, {counts['failed']} failed.") in parent
    assert optuna.load_study(study_name="why", storage=f"sqlite:///{project / 'optuna.db'}").metric_names == [
        "dev_accuracy"]
