"""optuna-dashboard on a search's study storage (``autodl dashboard``): the optional package, the
address of the study's page, and the server.

The study names its objective (``search.study.open_study`` records the metric's name), and each
trial's user attributes hold its MLflow run id, so the dashboard and the MLflow UI lead to each
other.
"""

from __future__ import annotations

import importlib.util

import optuna

from autodl.errors import AutodlError, StorageError
from autodl.runtime.stores import missing_sqlite, storage_errors
from autodl.search.study import load_stored_study, make_storage

INSTALL = "pip install 'autodl[dashboard]'"


def require_dashboard() -> None:
    """optuna-dashboard is an optional extra: its absence is one clear message."""
    if importlib.util.find_spec("optuna_dashboard") is None:
        raise AutodlError(f"optuna-dashboard is not installed: {INSTALL}")


def study_page(storage_url: str, name: str, base: str) -> str:
    """The dashboard's page of study ``name`` (``http://127.0.0.1:8080/dashboard/studies/1``); a
    study the storage lacks is a ``StorageError`` naming the studies it holds."""
    load_stored_study(name, storage_url)
    with storage_errors(storage_url):
        study_id = make_storage(storage_url, create=False).get_study_id_from_name(name)
    return f"{base}/dashboard/studies/{study_id}"


def open_storage(storage_url: str) -> optuna.storages.BaseStorage:
    """The storage to serve, read only; one that does not exist is a ``StorageError`` (and is not
    created)."""
    require_dashboard()
    db = missing_sqlite(storage_url)
    if db is not None:
        raise StorageError(f"No Optuna storage at {db}: run `autodl search SPEC` first, or pass --storage.")
    with storage_errors(storage_url):
        return make_storage(storage_url, create=False)


def serve(storage: optuna.storages.BaseStorage, host: str, port: int) -> None:
    """Serve optuna-dashboard on ``storage`` at ``host:port`` until Ctrl-C."""
    import optuna_dashboard

    try:
        optuna_dashboard.run_server(storage, host=host, port=port)
    except OSError as exc:  # the port is taken, or the address cannot be bound
        raise AutodlError(f"Cannot serve optuna-dashboard on {host}:{port}: {exc.strerror or exc}. "
                          "Pass another --port.") from None
