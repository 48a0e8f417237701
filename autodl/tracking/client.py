"""The MLflow client: one set-up for every place that talks to MLflow (quiet loggers, no
retries against a dead server, the SQLite folder created, an absolute store URL) and one
translation of "cannot reach the store" into a ``TrackingError``."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autodl.errors import TrackingError, first_line
from autodl.runtime.stores import absolute, disk_trouble, mask_url, prepare_sqlite, sqlite_file, sqlite_lock


def prepare_mlflow(uri: str) -> str:
    """Set MLflow up for the store at ``uri``; return the URL MLflow must be given."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # MLflow logs a database error's traceback before raising it; autodl reports the error itself.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    prepare_sqlite(uri)
    return absolute(uri)


def mlflow_client(uri: str) -> Any:
    """An ``MlflowClient`` on the store at ``uri``."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=prepare_mlflow(uri))


def unreachable(uri: str, exc: BaseException, doing: str, fix: str) -> TrackingError:
    """The error for an MLflow call that failed: what was being done, the store, MLflow's first
    line, how to fix it."""
    return TrackingError(f"Cannot {doing} {mask_url(uri)}: {mask_url(first_line(exc))}. {fix}")


def tracking_fix(reason: str, uri: str) -> str:
    """What to do about the tracking store at ``uri`` that failed with ``reason``; a local store
    that cannot be written (read-only, or no permission) is named by its folder."""
    trouble = disk_trouble(reason)
    if trouble == "full":
        return "Free some disk space where the store lives"
    if trouble == "unwritable":
        folder = store_folder(uri)
        where = f"The store's folder {folder}/" if folder is not None else "The store's folder"
        return f"{where} is not writable (read-only, or no permission): make it writable"
    return "Start the server, fix tracking.uri / --tracking-uri"


def store_folder(uri: str) -> Path | None:
    """The folder of a local MLflow store (an SQLite file's folder, a ``file:`` or plain path);
    ``None`` for a server."""
    db = sqlite_file(uri)
    if db is not None:
        return db.parent
    if uri.startswith("file:"):
        return Path(uri.removeprefix("file:").removeprefix("//"))
    return Path(uri) if uri and "://" not in uri else None


def connected_client(uri: str) -> Any:
    """A client whose store answered a first query, so an unreachable server fails before any
    training."""
    try:
        with sqlite_lock(uri):  # creating the client and the first query create a new store's tables
            client = mlflow_client(uri)
            client.search_experiments(max_results=1)
    except Exception as exc:  # connection, auth and database errors all land here
        raise unreachable(
            uri, exc, "reach the MLflow tracking store",
            f"{tracking_fix(first_line(exc), uri)}, or set tracking.enabled: false.",
        ) from None
    return client


def _environment_cause(exc: BaseException) -> BaseException | None:
    """The failure of the environment behind an MLflow error, if that is what it is: a file
    system error (a full disk, a read-only folder), a database that refused a write, or a server
    that could not be reached. ``None`` for anything else (a bug stays a bug)."""
    seen: BaseException | None = exc
    while seen is not None:
        kind = type(seen)
        if isinstance(seen, OSError) or kind.__name__ in ("OperationalError", "InterfaceError") or (
            kind.__module__.startswith(("requests", "urllib3")) and "Connection" in kind.__name__
        ):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def tracking_failures(uri: str) -> Iterator[None]:
    """Turn MLflow failing while a search runs (its store's disk full, its server gone away) into
    one ``TrackingError`` that says what to fix. The study keeps every finished trial, so the same
    command resumes; other exceptions pass unchanged."""
    try:
        yield
    except Exception as exc:
        cause = _environment_cause(exc) if type(exc).__module__.startswith(("mlflow", "sqlalchemy")) else None
        if cause is None:
            raise
        raise unreachable(
            uri, cause, "log the search to the MLflow tracking store",
            f"{tracking_fix(first_line(cause), uri)}, or set tracking.enabled: false; the study keeps "
            "every finished trial, so the same command resumes the search.",
        ) from None
