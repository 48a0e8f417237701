"""A shared study on this machine's PostgreSQL server: several workers, one study, exactly the
requested number of trials.

Skipped, with the reason printed, when no server answers (``.ci/run`` starts one when it can).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from autodl.search.loop import optimize
from autodl.search.study import open_study
from autodl.spec import load_spec
from tests.conftest import REPO, minimal_spec
from tests.test_search import by_filters, curve_objective, make_spec
from tests.test_search_budgets import SMALL_GRID, _worker

POSTGRES_URL = os.environ.get("AUTODL_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")


@pytest.fixture
def postgres() -> str:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
    except Exception as exc:  # no server, no driver, refused
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {type(exc).__name__}")
    return POSTGRES_URL


def test_two_searches_share_one_study_on_postgres(postgres: str, write_spec: Callable[..., Path]) -> None:
    spec = make_spec(write_spec, trials=5, pruner={"name": "none"})
    spec = spec.with_overrides(name=f"pg-{uuid.uuid4().hex[:8]}")
    first = optimize(spec.with_overrides(**{"search.trials": 3}), open_study(spec, postgres),
                            curve_objective(by_filters), [], lambda t, o: None)
    second = optimize(spec, open_study(spec, postgres), curve_objective(by_filters), [],
                             lambda t, o: None)
    assert (first.ran, second.ran) == (3, 2)
    import optuna

    study = optuna.load_study(study_name=spec.name, storage=postgres)
    assert [t.number for t in study.trials] == list(range(5))
    assert all(t.user_attrs["config"]["model"]["family"] == "cnn" for t in study.trials)
    optuna.delete_study(study_name=spec.name, storage=postgres)


def test_three_worker_processes_run_exactly_the_requested_trials_on_postgres(
    postgres: str, write_spec: Callable[..., Path]
) -> None:
    name = f"pg-{uuid.uuid4().hex[:8]}"
    path = write_spec(minimal_spec(name=name, model=SMALL_GRID | {"dropout": {"float": [0.0, 0.5]}},
                                   training={"epochs": 2}, tracking={"enabled": False},
                                   search={"trials": 10, "pruner": {"name": "none"}}))
    open_study(load_spec(path), postgres)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_worker, args=(str(path), postgres, 0.05)) for _ in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    import optuna

    try:
        assert [p.exitcode for p in workers] == [0, 0, 0]
        study = optuna.load_study(study_name=name, storage=postgres)
        assert len(study.trials) == 10
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        assert len({t.user_attrs["worker"] for t in study.trials}) >= 2
    finally:
        optuna.delete_study(study_name=name, storage=postgres)


@pytest.mark.slow
def test_search_with_two_workers_on_postgres_trains_exactly_the_requested_trials(
    postgres: str, tmp_path: Path
) -> None:
    """The real CLI: `autodl search --workers 2 --storage postgresql://...` on the digits CNN."""
    name = f"pg-digits-{uuid.uuid4().hex[:8]}"
    spec = yaml.safe_load((REPO / "search_spaces" / "digits_cnn.yaml").read_text())
    spec["name"] = name
    spec["training"]["epochs"] = 3
    spec["search"]["pruner"] = {"name": "none"}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = subprocess.run(
        [sys.executable, "-m", "autodl", "search", str(path), "--trials", "5", "--workers", "2",
         "--storage", postgres],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    import optuna

    try:
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"{name}: stopped (reached 5 trials); 5 complete, 0 pruned, 0 failed (5 run now)." in out.stdout
        assert "autodl[worker 1]: " in out.stderr and "autodl[worker 2]: " in out.stderr
        study = optuna.load_study(study_name=name, storage=postgres)
        assert len(study.trials) == 5
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
        assert len({t.user_attrs["worker"] for t in study.trials}) == 2
        saved = json.loads((tmp_path / "best_model" / name / "best.json").read_text())
        assert saved["trial"] == study.best_trial.number
        import mlflow

        client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
        runs = client.search_runs([client.get_experiment_by_name(name).experiment_id])
        parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
        assert len(parents) == 1 and len(children) == 5
        assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
        assert {r.info.status for r in runs} == {"FINISHED"}
    finally:
        optuna.delete_study(study_name=name, storage=postgres)
