"""`autodl ui` serves the project's MLflow store on 127.0.0.1 (read back through the REST API)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from autodl.search.loop import SearchEnd, SearchStart
from autodl.tracking.runs import MlflowTracker
from tests.helpers import free_port

pytestmark = pytest.mark.slow


def test_ui_serves_the_store_over_rest(project: Path) -> None:
    tracker = MlflowTracker("sqlite:///mlruns/mlflow.db")
    tracker.search_started(SearchStart("ui-check", "name: ui-check\n", {}, total=1, done=0))
    parent = tracker.parent_run_id
    tracker.search_ended(SearchEnd("FINISHED", {"complete": 0}))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    server = subprocess.Popen(
        [sys.executable, "-m", "autodl", "ui", "--port", str(port)],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    body = None
    try:
        deadline = time.monotonic() + 180
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/runs/search",
            data=json.dumps({"experiment_ids": ["1"]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        while time.monotonic() < deadline and body is None and server.poll() is None:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    body = json.loads(response.read())
            except OSError:
                time.sleep(1)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=60)[0].decode(errors="replace")
    assert body is not None, f"the UI did not answer (exit code {server.returncode}):\n{output[-3000:]}"
    assert [run["info"]["run_id"] for run in body["runs"]] == [parent]
    assert f"MLflow UI on http://127.0.0.1:{port}" in output
