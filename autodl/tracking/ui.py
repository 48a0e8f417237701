"""MLflow's web UI on a search's store: the command that serves it, and the address of a search's
experiment page.

MLflow 3's UI keeps a workflow switch (GenAI or model training) and opens an experiment on its
GenAI overview unless the address asks for model training, so the address autodl prints names
it: the experiment's training runs, the search's parent run with its trial runs nested under it.
"""

from __future__ import annotations

import sys

from autodl.errors import TrackingError
from autodl.runtime.stores import mask_url, missing_sqlite
from autodl.tracking.client import connected_client

WORKFLOW = "workflowType=machine_learning"
"""The UI's query for its model-training views (the value its own bundle uses)."""


def is_server(uri: str) -> bool:
    """Whether ``uri`` is an MLflow tracking server (which serves its own UI) rather than a store."""
    return uri.startswith(("http://", "https://"))


def ui_command(uri: str, host: str, port: int) -> list[str]:
    """``mlflow ui`` on the store at ``uri``, bound to ``host:port``; a store that does not exist
    is a ``TrackingError`` (opening it would create an empty one)."""
    db = missing_sqlite(uri)
    if db is not None:
        raise TrackingError(f"No MLflow store at {db}: run `autodl search SPEC` first, or pass --tracking-uri.")
    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]


def experiments_page(base: str) -> str:
    """The UI's list of experiments, in its model-training views."""
    return f"{base}/#/experiments?{WORKFLOW}"


def experiment_page(uri: str, name: str, base: str) -> str:
    """The address of experiment ``name``'s training runs in the UI at ``base``
    (``http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning``); an experiment
    the store lacks is a ``TrackingError`` naming the experiments it holds."""
    client = connected_client(uri)
    found = client.get_experiment_by_name(name)
    if found is None:
        names = sorted(e.name for e in client.search_experiments(max_results=100))
        holds = f"it holds {', '.join(repr(n) for n in names)}" if names else "it holds no experiment"
        raise TrackingError(
            f"No MLflow experiment {name!r} in {mask_url(uri)} ({holds}): run `autodl search SPEC` "
            "first, or pass --tracking-uri of the store it logged to."
        )
    return f"{base}/#/experiments/{found.experiment_id}/runs?{WORKFLOW}"
