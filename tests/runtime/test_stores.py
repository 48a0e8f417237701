"""Store locations and credential masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from autodl.errors import StorageError
from autodl.runtime.stores import (
    absolute,
    default_storage,
    mask_url,
    prepare_sqlite,
    sqlite_path,
    storage_failures,
    storage_fix,
)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://autodl:s3cret@db.example:5432/studies", "postgresql://autodl:***@db.example:5432/studies"),
        ("postgresql+psycopg2://u:p%40ss@host/db", "postgresql+psycopg2://u:***@host/db"),
        ("https://user:token@mlflow.example", "https://user:***@mlflow.example"),
        ("postgresql://host/db", "postgresql://host/db"),
        ("sqlite:///mlruns/optuna.db", "sqlite:///mlruns/optuna.db"),
        ("error from postgresql://a:b@h/d and http://c:d@e", "error from postgresql://a:***@h/d and http://c:***@e"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_study_lives_beside_the_mlflow_store() -> None:
    assert default_storage("sqlite:///mlruns/mlflow.db") == "sqlite:///mlruns/optuna.db"
    assert default_storage("sqlite:////abs/store/mlflow.db") == "sqlite:////abs/store/optuna.db"
    assert default_storage("http://127.0.0.1:5000") == "sqlite:///mlruns/optuna.db"
    assert default_storage(None) == "sqlite:///mlruns/optuna.db"


def test_sqlite_folder_is_created(project: Path) -> None:
    prepare_sqlite("sqlite:///deep/er/x.db")
    assert (project / "deep" / "er").is_dir()
    assert sqlite_path("postgresql://h/db") is None
    assert sqlite_path("sqlite:////tmp/a.db") == Path("/tmp/a.db")


def test_sqlite_urls_are_made_absolute(project: Path) -> None:
    assert absolute("sqlite:///mlruns/mlflow.db") == f"sqlite:///{project.resolve()}/mlruns/mlflow.db"
    assert absolute("sqlite:////already/abs.db") == "sqlite:////already/abs.db"
    assert absolute("postgresql://u:p@h/db") == "postgresql://u:p@h/db"
    assert absolute("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


UNWRITABLE = ("The database file mlruns/optuna.db or its folder mlruns/ is not writable (read-only, or no "
              "permission): make both writable, or pass --storage with a SQLite file in a writable folder.")


@pytest.mark.parametrize(
    ("url", "reason", "fix"),
    [
        ("sqlite:///mlruns/optuna.db", "(sqlite3.OperationalError) database or disk is full",
         "The disk holding the database file is full: free some space there."),
        ("sqlite:///mlruns/optuna.db", "[Errno 30] Read-only file system: 'mlruns/optuna.db.lock'", UNWRITABLE),
        ("sqlite:///mlruns/optuna.db", "(sqlite3.OperationalError) attempt to write a readonly database", UNWRITABLE),
        ("sqlite:///mlruns/optuna.db", "[Errno 13] Permission denied: 'mlruns/optuna.db.lock'", UNWRITABLE),
        ("sqlite:///mlruns/optuna.db", "file is not a database",
         "Check the URL and that the file is a SQLite database."),
        ("postgresql://u:p@h/db", "connection refused", "Check the URL and that the database server is running."),
    ],
)
def test_a_storage_error_says_what_to_fix_for_its_kind_of_store(url: str, reason: str, fix: str) -> None:
    assert storage_fix(url, reason) == fix


def test_the_database_failing_mid_search_is_a_storage_error_and_a_bug_is_not() -> None:
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import OperationalError

    url = "postgresql://autodl:s3cret@db/studies"
    with pytest.raises(StorageError) as caught, storage_failures(url):
        try:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))
        except OperationalError as exc:
            raise StorageInternalError("An exception is raised during the commit.") from exc
    assert str(caught.value) == (
        "The study storage postgresql://autodl:***@db/studies failed during the search: (builtins.Exception) "
        "server closed the connection unexpectedly. Check the URL and that the database server is running. "
        "The finished trials are stored; the same command resumes the search."
    )
    with pytest.raises(KeyError), storage_failures(url):
        raise KeyError("a bug")
