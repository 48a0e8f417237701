"""Store locations and credential masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from autodl.runtime.stores import absolute, default_storage, mask_url, prepare_sqlite, sqlite_path


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
