"""For images: the model a search logs to MLflow at export loads back through
``mlflow.pyfunc`` by its run (``runs:/<run>/model``) and by its registered version
(``models:/<name>/1``), and predicts raw pixels as the Keras file does. One lean search: a tiny CNN,
one trial of one epoch on the 8x8 digits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from autodl.cli import app
from tests.helpers import digits_folder, mlflow_store


@pytest.mark.slow
def test_the_logged_image_model_serves_raw_pixels_through_pyfunc(project: Path, write_spec: Any) -> None:
    import keras
    import mlflow

    from autodl.data.images import read_image_folder

    folder = digits_folder(project / "digits", per_class=40)
    spec = write_spec({
        "name": "pixels", "seed": 0,
        "data": {"source": str(folder), "color_mode": "grayscale"},
        "model": {"family": "cnn", "blocks": 1, "filters": 4, "dense_units": 8, "dropout": 0.0},
        "optimizer": {"name": "adam", "learning_rate": 0.01},
        "training": {"epochs": 1, "batch_size": 64},
        "search": {"trials": 1, "pruner": {"name": "none"}},
        "diagnostics": {"baselines": False},
        "tracking": {"uri": mlflow_store()},
        "export": {"formats": ["keras"], "registry": True},
    })
    result = CliRunner().invoke(app, ["search", str(spec), "--quiet"])
    assert result.exit_code == 0, result.output
    export = project / "best_model" / "pixels" / "export"
    manifest = json.loads((export / "export.json").read_text())
    assert manifest["input"]["kind"] == "image" and manifest["mlflow"]["registered_name"] == "pixels"
    pixels = read_image_folder(folder, None, "grayscale").x[::9][:40]
    assert pixels.max() > 1.0, "raw pixel values, not scaled ones"
    reference = keras.saving.load_model(export / "model.keras").predict(pixels, verbose=0)
    mlflow.set_tracking_uri(mlflow_store())
    for uri in (f"runs:/{manifest['mlflow']['run_id']}/model", "models:/pixels/1"):
        predicted = np.asarray(mlflow.pyfunc.load_model(uri).predict(pixels))
        assert predicted.shape == reference.shape == (len(pixels), 10), uri
        np.testing.assert_allclose(predicted, reference, atol=1e-5, err_msg=uri)
