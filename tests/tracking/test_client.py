"""The MLflow client: an unreachable server fails fast, and each folder gets its own store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from autodl.errors import TrackingError
from autodl.tracking.runs import MlflowTracker


def test_unreachable_server_fails_fast_with_a_clear_message() -> None:
    started = time.monotonic()
    with pytest.raises(TrackingError) as info:
        MlflowTracker("http://admin:hunter2@127.0.0.1:9", "dev_accuracy")
    message = str(info.value)
    assert message.startswith("Cannot reach the MLflow tracking store http://admin:***@127.0.0.1:9: ")
    assert message.endswith("Start the server, fix tracking.uri / --tracking-uri, or set tracking.enabled: false.")
    assert "hunter2" not in message
    assert time.monotonic() - started < 30


def test_two_folders_get_two_mlflow_stores(tmp_path: Path, monkeypatch) -> None:
    from autodl.search.loop import SearchStart

    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        tracker = MlflowTracker("sqlite:///mlruns/mlflow.db", "dev_accuracy")
        tracker.search_started(SearchStart(f"exp-{name}", "", {}, total=1, done=0))
        assert (tmp_path / name / "mlruns" / "mlflow.db").is_file()
        assert sorted(e.name for e in tracker.client.search_experiments()) == ["Default", f"exp-{name}"]
