"""A real search logged to a real `mlflow server`, read back through MLflow's REST API; then the
same server gone, which must stop the next search before any training."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import optuna
import pytest
from typer.testing import CliRunner

from autodl.cli import app
from tests.helpers import free_port, minimal_spec, open_local

pytestmark = pytest.mark.slow


EPOCHS = 2


TRIALS = 3


def rest(url: str, endpoint: str, body: dict[str, Any] | None = None, **query: str) -> dict[str, Any]:
    """GET ``url/api/2.0/mlflow/endpoint?query`` (or POST ``body`` to it); return the JSON answer."""
    address = f"{url}/api/2.0/mlflow/{endpoint}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(address, data=data, headers={"Content-Type": "application/json"})
    with open_local(request, timeout=30) as response:
        return json.loads(response.read())


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """Run `mlflow server` on a free local port with its store in ``folder``; yield its URL once
    it answers, and stop it (and its workers) however the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no GenAI job runners for a training store
    command = [sys.executable, "-m", "mlflow", "server",
               "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
               "--default-artifact-root", str(folder / "artifacts"),
               "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # the server starts slowly on a loaded 2-core machine
        while True:
            try:
                with open_local(f"{url}/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.communicate(timeout=30)[0].decode(errors="replace")
                pytest.fail(f"mlflow server did not answer (exit code {server.returncode}):\n{output[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        if server.stdout is not None:
            server.stdout.close()


def tags(run: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["data"].get("tags", [])}


def test_search_on_a_tracking_server_reads_back_over_rest(
    project: Path, write_spec: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    spec = write_spec(minimal_spec(
        name="served",
        model={"family": "cnn", "blocks": 1, "filters": {"choice": [8, 16]}, "dense_units": 16},
        training={"epochs": EPOCHS, "batch_size": 64},
        search={"trials": TRIALS, "pruner": {"name": "none"}},
    ))
    runner = CliRunner()
    with mlflow_server(project / "server") as url:
        result = runner.invoke(app, ["search", str(spec), "--tracking-uri", url, "--quiet"])
        assert result.exit_code == 0, result.output
        assert f"in {url}; browse with" in result.output.replace("\n", "")

        experiment = rest(url, "experiments/get-by-name", experiment_name="served")["experiment"]
        assert {t["key"]: t["value"] for t in experiment["tags"]}["mlflow.experimentKind"] == "custom_model_development"
        ui = runner.invoke(app, ["ui", str(spec), "--tracking-uri", url])
        assert ui.exit_code == 0, ui.output
        assert ui.output.strip() == (f"{url} is an MLflow tracking server with its own UI: {url}/#/experiments/"
                                     f"{experiment['experiment_id']}/runs?workflowType=machine_learning")
        runs = rest(url, "runs/search", {"experiment_ids": [experiment["experiment_id"]],
                                         "max_results": 100})["runs"]
        parents = [r for r in runs if "mlflow.parentRunId" not in tags(r)]
        children = sorted((r for r in runs if "mlflow.parentRunId" in tags(r)),
                          key=lambda r: int(tags(r)["trial"]))
        assert len(parents) == 1 and len(children) == TRIALS
        parent = parents[0]["info"]["run_id"]
        assert parents[0]["info"]["status"] == "FINISHED"
        assert [tags(r)["mlflow.parentRunId"] for r in children] == [parent] * TRIALS
        assert [tags(r)["state"] for r in children] == ["complete"] * TRIALS
        assert [r["info"]["status"] for r in children] == ["FINISHED"] * TRIALS
        assert [r["info"]["run_name"] for r in children] == [f"trial-{i:03d}" for i in range(TRIALS)]
        assert tags(parents[0])["best_trial"] in {str(i) for i in range(TRIALS)}
        for child in children:
            run_id = child["info"]["run_id"]
            loss = rest(url, "metrics/get-history", run_id=run_id, metric_key="loss")["metrics"]
            assert [m["step"] for m in loss] == list(range(1, EPOCHS + 1))
            dev = rest(url, "metrics/get-history", run_id=run_id, metric_key="dev_accuracy")["metrics"]
            per_epoch = sorted({m["step"] for m in dev})
            assert per_epoch == list(range(1, EPOCHS + 1))
            final = {m["key"]: m["value"] for m in child["data"]["metrics"]}
            assert final["epochs"] == EPOCHS and 0 <= final["dev_accuracy"] <= 1
            assert {p["key"] for p in child["data"]["params"]} >= {"model.filters"}

        listed = rest(url, "artifacts/list", run_id=parent, path="plots")
        assert {Path(f["path"]).name for f in listed["files"]} == {
            "optimization_history.png", "parallel_coordinates.png"
        }
        model_files = {f["path"] for f in rest(url, "artifacts/list", run_id=parent, path="best_model")["files"]}
        assert "best_model/model.keras" in model_files and "best_model/plots" not in model_files
    plots = project / "best_model" / "served" / "plots"
    assert sorted(p.name for p in plots.iterdir()) == ["optimization_history.png", "parallel_coordinates.png"]

    report = runner.invoke(app, ["report", str(spec)])
    assert report.exit_code == 0, report.output
    assert report.output.startswith(f"served in sqlite:///mlruns/optuna.db: maximize dev_accuracy; {TRIALS} complete")
    assert "Verdict:" in report.output and (project / "reports" / "served.html").is_file()

    started = time.monotonic()
    gone = runner.invoke(app, ["search", str(spec), "--tracking-uri", url, "--trials", "5", "--quiet"])
    assert gone.exit_code == 2
    assert gone.output.startswith(f"Error: Cannot reach the MLflow tracking store {url}: ")
    assert "Start the server, fix tracking.uri / --tracking-uri" in gone.output.replace("\n", " ")
    assert time.monotonic() - started < 30
    study = optuna.load_study(study_name="served", storage="sqlite:///mlruns/optuna.db")
    assert len(study.trials) == TRIALS, "no trial started once the server was gone"
