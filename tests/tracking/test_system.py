"""System metrics of trial runs: MLflow's monitor logs CPU and memory while a trial trains, and a
missing package is a notice, never a failure."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autodl.outcome import TrialOutcome
from autodl.runtime.log import logger
from autodl.search.loop import SearchStart
from autodl.tracking import system
from autodl.tracking.runs import MlflowTracker
from tests.helpers import mlflow_store


@pytest.fixture
def notices(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The ``autodl`` logger's warnings (it does not propagate once the CLI configured it)."""
    logger.addHandler(caplog.handler)
    caplog.set_level("WARNING", logger="autodl")
    yield caplog
    logger.removeHandler(caplog.handler)


def test_a_trial_run_gets_cpu_and_memory_use(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psutil")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    tracker = MlflowTracker("sqlite:///mlruns/mlflow.db", "dev_accuracy", system_metrics=True)
    tracker.search_started(SearchStart("sys", "", {}, total=1, done=0))
    tracker.trial_started(0, {}, seed=0, tags={})
    run_id = tracker._trial_runs[0]
    time.sleep(0.7)
    tracker.trial_finished(0, TrialOutcome("complete", value=0.5, epochs=1))
    client = MlflowClient(mlflow_store())
    metrics = client.get_run(run_id).data.metrics
    assert 0 <= metrics["system/cpu_utilization_percentage"] <= 100 * 64
    assert metrics["system/system_memory_usage_megabytes"] > 0
    assert len(client.get_metric_history(run_id, "system/system_memory_usage_megabytes")) >= 2
    assert client.get_run(run_id).info.status == "FINISHED"


def test_without_psutil_nothing_is_sampled_and_the_search_is_told(
    monkeypatch: pytest.MonkeyPatch, notices: pytest.LogCaptureFixture,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(system.importlib.util, "find_spec", lambda name: None if name == "psutil" else real(name))
    monitor = system.SystemMetrics("sqlite:///unused.db")
    assert not monitor.enabled
    monitor.start("run")
    monitor.stop("run")
    assert ("tracking.system_metrics: psutil is not installed, so CPU, memory and GPU use are not logged: "
            "pip install 'autodl[system-metrics]'") in notices.text


def test_on_a_gpu_machine_without_nvidia_ml_py_cpu_and_memory_still_are_logged(
    monkeypatch: pytest.MonkeyPatch, notices: pytest.LogCaptureFixture,
) -> None:
    pytest.importorskip("psutil")
    real = importlib.util.find_spec
    monkeypatch.setattr(system, "visible_gpus", lambda: ["GPU 0: NVIDIA H200"])
    monkeypatch.setattr(system.importlib.util, "find_spec", lambda name: None if name == "pynvml" else real(name))
    assert system.missing_packages(["GPU 0"]) == ["nvidia-ml-py"]
    assert system.missing_packages([]) == []
    assert system.SystemMetrics("sqlite:///unused.db").enabled
    assert "nvidia-ml-py is not installed, so GPU utilization and memory are not logged" in notices.text
