"""Shared fixtures: a temporary project folder, spec files in it, a CLI runner, no network, a fresh
Keras session, the PostgreSQL server when one answers, and small file systems mounted for a test.
Plain helpers are in ``helpers.py``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

pytest.register_assert_rewrite("tests.helpers")

POSTGRES_URL = os.environ.get("AUTODL_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")


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


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any download attempt fails at once instead of reaching out (tests never download)."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture
def fresh_keras() -> None:
    """An empty Keras session with fixed seeds (the model and trial tests use it for every test)."""
    from autodl.runtime.backend import load_keras

    keras = load_keras()
    keras.utils.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)


@pytest.fixture
def postgres() -> str:
    """The URL of this machine's PostgreSQL server (``AUTODL_TEST_POSTGRES``); skips when none answers."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
    except Exception as exc:  # no server, no driver, refused
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {type(exc).__name__}")
    return POSTGRES_URL


@pytest.fixture
def mount() -> Iterator[Callable[[Path, str], None]]:
    """``mount(folder, options)`` mounts a tmpfs there (``"size=1m,ro"``: read-only); every mount is
    undone after the test. Skips where this machine does not let the tests mount (not root)."""
    mounted: list[Path] = []

    def mount_at(folder: Path, options: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({(done.stderr or done.stdout).strip()})")
        mounted.append(folder)

    yield mount_at
    for folder in reversed(mounted):
        subprocess.run(["umount", str(folder)], check=False)
