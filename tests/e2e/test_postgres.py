"""`autodl search --workers 2` sharing one study on this machine's PostgreSQL server.

Skipped, with the reason printed, when no server answers (``.ci/run`` starts one when it can).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO


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
