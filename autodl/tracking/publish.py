"""Publishing an export to MLflow: a Keras model of the search's parent run, with an input
signature, and a version in the model registry when asked.

``mlflow.pyfunc.load_model`` serves it on the raw input the Keras file takes: pixels, windows and
table rows as float32 arrays (table rows in the order of ``export.json``'s ``features``; a
DataFrame of those float32 columns works too), sentences as an array of strings.

MLflow 3 attaches a logged model to the active run, so the parent run is resumed for the call
and then closed again with the status it had.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from autodl.runtime.backend import load_keras
from autodl.runtime.stores import mask_url
from autodl.tracking.client import mlflow_client, prepare_mlflow, unreachable

MODEL_NAME = "model"
ARTIFACT_DIR = "export"


def log_model(
    model: Any, sample: np.ndarray, outputs: np.ndarray, uri: str, run_id: str,
    registered_name: str | None,
) -> dict[str, Any]:
    """Log ``model`` (with the signature of ``sample`` -> ``outputs``) to run ``run_id`` of the
    store at ``uri``; register it as ``registered_name`` when given.

    Returns what the manifest records: the run, the model URI and the registered version.
    """
    keras = load_keras()
    import mlflow
    import mlflow.keras
    import tensorflow as tf
    from mlflow.models import infer_signature

    client = mlflow_client(uri)
    try:
        status = client.get_run(run_id).info.status
    except Exception as exc:  # missing run, unreachable server, auth: MLflow raises many types
        raise unreachable(
            uri, exc, f"log the export to MLflow run {run_id} in",
            "Check --tracking-uri / tracking.uri, or set tracking.enabled: false.",
        ) from None
    mlflow.set_tracking_uri(prepare_mlflow(uri))
    mlflow.start_run(run_id=run_id)
    try:
        info = mlflow.keras.log_model(
            model,
            name=MODEL_NAME,
            signature=infer_signature(sample, outputs),
            registered_model_name=registered_name,
            pip_requirements=[f"keras=={keras.__version__}", f"tensorflow=={tf.__version__}"],
        )
    finally:
        mlflow.end_run(status=status)
    return {
        "tracking_uri": mask_url(uri),
        "run_id": run_id,
        "model_uri": info.model_uri,
        "registered_name": registered_name,
        "registered_version": info.registered_model_version,
    }


def log_files(uri: str, run_id: str, files: list[Path]) -> None:
    """Attach ``files`` (the model card, the manifest, the labels) to the run under ``export/``."""
    client = mlflow_client(uri)
    for path in files:
        client.log_artifact(run_id, str(path), ARTIFACT_DIR)
