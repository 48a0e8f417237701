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


def test_mlflow_failing_for_its_environment_mid_search_is_a_tracking_error_that_says_what_to_fix() -> None:
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import OperationalError

    from autodl.errors import TrackingError
    from autodl.tracking.client import tracking_failures

    with pytest.raises(TrackingError) as caught, tracking_failures("sqlite:///mlruns/mlflow.db"):
        try:
            raise OperationalError("INSERT", {}, Exception("database or disk is full"))
        except OperationalError as exc:
            raise MlflowException("(sqlite3.OperationalError) database or disk is full") from exc
    assert str(caught.value) == (
        "Cannot log the search to the MLflow tracking store sqlite:///mlruns/mlflow.db: (builtins.Exception) "
        "database or disk is full. Free some disk space where the store lives, or set tracking.enabled: false; "
        "the study keeps every finished trial, so the same command resumes the search."
    )


def test_an_mlflow_error_of_autodls_own_making_stays_a_bug() -> None:
    from mlflow.exceptions import MlflowException

    from autodl.tracking.client import tracking_failures

    with pytest.raises(MlflowException, match="Invalid value"), tracking_failures("http://127.0.0.1:5000"):
        raise MlflowException("Invalid value for parameter 'x'")
    with pytest.raises(ValueError), tracking_failures("http://127.0.0.1:5000"):
        raise ValueError("a bug") from OSError("not the reason")


UNWRITABLE = "is not writable (read-only, or no permission): make it writable"


@pytest.mark.parametrize(
    ("reason", "uri", "fix"),
    [("(sqlite3.OperationalError) database or disk is full", "sqlite:///mlruns/mlflow.db",
      "Free some disk space where the store lives"),
     ("attempt to write a readonly database", "sqlite:///mlruns/mlflow.db", f"The store's folder mlruns/ {UNWRITABLE}"),
     ("[Errno 13] Permission denied: 'mlruns/mlflow.db.lock'", "sqlite:///mlruns/mlflow.db",
      f"The store's folder mlruns/ {UNWRITABLE}"),
     ("[Errno 13] Permission denied: '/srv/runs/0'", "file:///srv/runs", f"The store's folder /srv/runs/ {UNWRITABLE}"),
     ("[Errno 30] Read-only file system: 'runs/0'", "runs", f"The store's folder runs/ {UNWRITABLE}"),
     ("Permission denied", "http://127.0.0.1:5000", f"The store's folder {UNWRITABLE}"),
     ("Connection refused", "http://127.0.0.1:5000", "Start the server, fix tracking.uri / --tracking-uri")],
)
def test_the_fix_for_a_failed_tracking_store_fits_its_reason(reason: str, uri: str, fix: str) -> None:
    from autodl.tracking.client import tracking_fix

    assert tracking_fix(reason, uri) == fix
