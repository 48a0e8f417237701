"""End to end on each kind of source: time series with a searched window, two review sites
against a third, an image folder, a CSV table, a whole-number regression target, and streamed
ones. Real data only, made on disk in the test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from autodl.cli import app
from tests.helpers import REPO, SENTENCES, diabetes_csv, digits_csv, digits_folder, mlflow_store

pytestmark = pytest.mark.slow


def search(spec: dict, folder: Path, *args: str) -> dict:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = CliRunner().invoke(app, ["search", str(path), "--quiet", *args])
    assert result.exit_code == 0, result.output
    return json.loads((folder / "best_model" / spec["name"] / "best.json").read_text())


def test_sunspots_forecast_searches_the_window(project: Path) -> None:
    spec = yaml.safe_load((REPO / "search_spaces" / "sunspots_gru.yaml").read_text())
    spec["training"]["epochs"] = 6
    spec["search"]["trials"] = 3
    record = search(spec, project)
    window = record["hyperparameters"]["data.window"]
    assert 6 <= window <= 30 and record["task"] == "regression"
    assert record["metrics"]["dev_mae"] == pytest.approx(record["objective"]["value"])
    assert record["metrics"]["test_mae"] > 0
    import keras
    import statsmodels.api as sm

    model = keras.saving.load_model(project / "best_model" / "sunspots-gru" / "model.keras")
    assert model.input_shape == (None, window, 1)
    values = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy("float32")
    forecast = model.predict(values[-window:][None, :, None], verbose=0)
    assert forecast.shape == (1, 1) and 0 < float(forecast[0, 0]) < 300

    import mlflow

    mlflow.set_tracking_uri(mlflow_store())
    runs = mlflow.search_runs(experiment_names=["sunspots-gru"])
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert children["params.data.window"].notna().all()


def test_two_sites_against_a_third(project: Path) -> None:
    spec = yaml.safe_load((REPO / "search_spaces" / "sentiment_lstm.yaml").read_text())
    spec["data"] = {
        "source": str(SENTENCES),
        "split": {"train_files": ["amazon_cells_labelled.txt", "imdb_labelled.txt"],
                  "dev_files": ["yelp_labelled.txt"], "train_dev": 0.1, "test": 0.5},
    }
    spec["training"]["epochs"] = 3
    spec["search"]["trials"] = 2
    record = search(spec, project)
    assert record["data"]["sizes"] == {"train": 1800, "train_dev": 200, "dev": 500, "test": 500}
    assert {"train_accuracy", "train_dev_accuracy", "dev_accuracy", "test_accuracy"} <= set(record["metrics"])
    gaps = record["diagnosis"]["gaps"]
    assert record["diagnosis"]["origin"] == "by_file"
    assert gaps["data_mismatch"]["size"] == pytest.approx(
        record["metrics"]["train_dev_accuracy"] - record["metrics"]["dev_accuracy"], abs=1e-6
    )
    analysis = (project / "best_model" / spec["name"] / "analysis" / "analysis.md").read_text()
    assert "Most confidently wrong dev examples:" in analysis


def test_image_folder_of_digits(project: Path) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder = project / "digit_images"
    for i, (image, label) in enumerate(zip(digits.images[:600], digits.target[:600], strict=True)):
        (folder / f"class_{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype("uint8"), mode="L").save(folder / f"class_{label}" / f"{i}.png")
    spec = {
        "name": "digit-images", "seed": 0,
        "data": {"source": "digit_images", "color_mode": "grayscale", "image_size": [16, 16]},
        "model": {"family": "cnn", "blocks": 2, "filters": {"choice": [8, 16]}, "rotation": 0.05},
        "optimizer": {"learning_rate": 0.003},
        "training": {"epochs": 4, "batch_size": 32},
        "search": {"trials": 2, "pruner": {"name": "none"}},
    }
    record = search(spec, project)
    assert record["class_names"] == [f"class_{i}" for i in range(10)]
    assert record["data"]["sizes"] == {"train": 420, "train_dev": 60, "dev": 60, "test": 60}
    assert record["metrics"]["dev_accuracy"] > 0.5
    import keras

    model = keras.saving.load_model(project / "best_model" / "digit-images" / "model.keras")
    assert model.input_shape == (None, 16, 16, 1)


def test_csv_table_with_an_mlp(project: Path) -> None:
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"target": "cultivar"})
    frame["cultivar"] = frame["cultivar"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    frame.to_csv(project / "wine.csv", index=False)
    spec = {
        "name": "wine", "seed": 0,
        "data": {"source": "wine.csv", "label": "cultivar"},
        "model": {"family": "mlp", "units": {"choice": [16, 32]}, "layers": 1},
        "optimizer": {"learning_rate": 0.01},
        "training": {"epochs": 30, "batch_size": 16},
        "search": {"trials": 2, "pruner": {"name": "none"}, "objective": {"metric": "dev_f1"}},
    }
    record = search(spec, project)
    assert record["class_names"] == ["barbera", "barolo", "grignolino"]
    assert record["metrics"]["dev_f1"] > 0.8
    import keras

    model = keras.saving.load_model(project / "best_model" / "wine" / "model.keras")
    probabilities = model.predict(frame.drop(columns="cultivar").to_numpy("float32")[:5], verbose=0)
    assert probabilities.shape == (5, 3) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)


def test_whole_number_targets_are_inferred_as_regression(project: Path) -> None:
    diabetes_csv(project / "diabetes.csv")
    spec = {
        "name": "diabetes", "seed": 0,
        "data": {"source": "diabetes.csv"},
        "model": {"family": "mlp", "units": {"choice": [16, 32]}, "layers": 1},
        "optimizer": {"learning_rate": 0.01},
        "training": {"epochs": 3, "batch_size": 32},
        "search": {"trials": 2, "pruner": {"name": "none"}, "objective": {"metric": "dev_mae"}},
        "tracking": {"enabled": False},
        "export": {"formats": []},
    }
    path = project / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = CliRunner().invoke(app, ["search", str(path)])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[:3]
    assert "autodl: task: regression (inferred from 214 distinct whole-number values; set data.task to change)" in first
    record = json.loads((project / "best_model" / "diabetes" / "best.json").read_text())
    assert (record["task"], record["class_names"]) == ("regression", [])
    assert record["data"]["sizes"] == {"train": 307, "train_dev": 45, "dev": 45, "test": 45}
    assert record["metrics"]["dev_mae"] > 0 and record["metrics"]["test_mae"] > 0


@pytest.mark.slow
def test_search_on_a_streamed_image_folder_and_a_streamed_csv(tmp_path: Path) -> None:
    """The CLI end to end on streamed digits: trials train, the best model is saved and
    predicts as well from the folder as the search measured."""
    root = digits_folder(tmp_path / "digits")
    table = digits_csv(tmp_path / "digits.csv")
    for name, data, model in [
        ("streamed-images", {"source": str(root), "color_mode": "grayscale", "stream": True},
         {"family": "cnn", "blocks": 2, "filters": 32, "kernel_size": 3, "dense_units": 64}),
        ("streamed-table", {"source": str(table), "stream": True},
         {"family": "mlp", "layers": 2, "units": 64}),
    ]:
        spec = {"name": name, "seed": 0, "data": data, "model": model,
                "optimizer": {"name": "adam", "learning_rate": 0.003},
                "training": {"epochs": 8, "batch_size": 32},
                "search": {"trials": 2, "pruner": {"name": "none"}}}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        out = subprocess.run([sys.executable, "-m", "autodl", "search", str(path)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "through tf.data" in out.stderr
        assert f"{name}: stopped (reached 2 trials); 2 complete" in out.stdout
        record = json.loads((tmp_path / "best_model" / name / "best.json").read_text())
        assert record["metrics"]["dev_accuracy"] >= 0.9
        assert record["metrics"]["test_accuracy"] >= 0.85
        manifest = json.loads((tmp_path / "best_model" / name / "export" / "export.json").read_text())
        assert manifest["formats"]
