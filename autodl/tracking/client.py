"""The MLflow client: one set-up for every place that talks to MLflow (quiet loggers, no
retries against a dead server, the SQLite folder created, an absolute store URL) and one
translation of "cannot reach the store" into a ``TrackingError``."""

from __future__ import annotations

import logging
import os
from typing import Any

from autodl.errors import TrackingError, first_line
from autodl.runtime.stores import absolute, mask_url, prepare_sqlite, sqlite_lock


def prepare_mlflow(uri: str) -> str:
    """Set MLflow up for the store at ``uri``; return the URL MLflow must be given."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
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


def connected_client(uri: str) -> Any:
    """A client whose store answered a first query, so an unreachable server fails before any
    training."""
    client = mlflow_client(uri)
    try:
        with sqlite_lock(uri):  # the first query creates a new store's tables
            client.search_experiments(max_results=1)
    except Exception as exc:  # connection, auth and database errors all land here
        raise unreachable(
            uri, exc, "reach the MLflow tracking store",
            "Start the server, fix tracking.uri / --tracking-uri, or set tracking.enabled: false.",
        ) from None
    return client
