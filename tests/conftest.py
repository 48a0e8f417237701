"""Shared fixtures: spec files in a temporary project folder, and a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SENTENCES = SHARED_DATA / "sentiment_labelled_sentences"


def mlflow_store() -> str:
    """This folder's MLflow store as an absolute URI (MLflow caches stores by URI string)."""
    return f"sqlite:///{Path.cwd().resolve()}/mlruns/mlflow.db"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder: ``mlruns/`` and ``best_model/`` land here, not in the repo."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write a spec (a dict or YAML text) to a file and return its path."""

    def write(content: dict | str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        path.write_text(text)
        return path

    return write


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def minimal_spec(**overrides: object) -> dict:
    """A small valid spec on the digits set; keyword arguments replace top-level sections."""
    spec: dict = {
        "name": "tiny",
        "seed": 0,
        "data": {"source": "digits"},
        "model": {"family": "cnn"},
    }
    spec.update(overrides)
    return spec


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any download attempt fails at once instead of reaching out (tests never download)."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
