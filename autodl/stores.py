"""Locations of the MLflow store and the Optuna study, and masking credentials in URLs."""

from __future__ import annotations

import re
from pathlib import Path

_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@]*):(?P<secret>[^@/]*)@")


def mask_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///relative`` or ``sqlite:////absolute`` URL, else ``None``."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url.removeprefix("sqlite:///"))


def default_storage(tracking_uri: str | None) -> str:
    """The study's default home: ``optuna.db`` beside an SQLite MLflow store, else in ``mlruns/``."""
    db = sqlite_path(tracking_uri or "")
    folder = db.parent if db is not None else Path("mlruns")
    return f"sqlite:///{folder / 'optuna.db'}"


def absolute(url: str) -> str:
    """An SQLite URL with its file made absolute (others unchanged).

    MLflow caches one store per URL string, so a relative ``sqlite:///mlruns/mlflow.db`` would
    keep pointing at the folder where it was first opened.
    """
    db = sqlite_path(url)
    if db is None or db.is_absolute() or str(db) in ("", ":memory:"):
        return url
    return f"sqlite:///{db.resolve()}"


def prepare_sqlite(url: str) -> None:
    """Create the folder of an SQLite database so the first run works on a fresh clone."""
    db = sqlite_path(url)
    if db is not None and str(db) not in ("", ":memory:"):
        db.parent.mkdir(parents=True, exist_ok=True)
