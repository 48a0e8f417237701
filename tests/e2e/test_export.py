"""A real search exported in a new process (every format, retrained, registered) and used by
``autodl predict``; a text search exported with a standalone preprocessor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from autodl.cli import app
from autodl.export import formats
from autodl.runtime.backend import load_keras
from tests.helpers import SENTENCES, load_digit_images, load_sentences, mlflow_store

keras = load_keras()


DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _autodl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "autodl", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def write_digit_folders(root: Path, held_out: int) -> tuple[Path, Path, list[str]]:
    """The digits as grayscale PNGs in one folder per class name (train), and ``held_out`` of
    them unlabelled in one flat folder (to predict); returns both and the held-out names."""
    import PIL.Image

    x, y = load_digit_images()
    pixels = (x[..., 0] * 15).astype("uint8")
    train, unlabelled = root / "digits", root / "unlabelled"
    truth = []
    for i, (image, label) in enumerate(zip(pixels, y, strict=True)):
        if i >= len(y) - held_out:
            folder, name = unlabelled, f"{i:04d}.png"
            truth.append(DIGIT_NAMES[label])
        else:
            folder, name = train / DIGIT_NAMES[label], f"{i:04d}.png"
        folder.mkdir(parents=True, exist_ok=True)
        PIL.Image.fromarray(image, mode="L").save(folder / name)
    return train, unlabelled, truth


@pytest.mark.slow
def test_resumed_image_search_exports_every_format_in_a_new_process_and_predicts_names(
    project: Path, write_spec: Any
) -> None:
    train, unlabelled, truth = write_digit_folders(project, held_out=40)
    spec = write_spec({
        "name": "digit-pngs", "seed": 0,
        "data": {"source": str(train), "color_mode": "grayscale"},
        "model": {"family": "cnn", "blocks": 1, "filters": 16, "dense_units": 32, "dropout": 0.0},
        "optimizer": {"name": "adam", "learning_rate": {"float": [0.003, 0.01], "scale": "log"}},
        "training": {"epochs": 8, "batch_size": 32},
        "search": {"trials": 1, "pruner": {"name": "none"}},
        "tracking": {"uri": mlflow_store()},
    })
    runner = CliRunner()
    first = runner.invoke(app, ["search", str(spec), "--quiet"])
    assert first.exit_code == 0, first.output
    resumed = runner.invoke(app, ["search", str(spec), "--trials", "2", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    import optuna

    study = optuna.load_study(study_name="digit-pngs", storage=f"sqlite:///{project}/mlruns/optuna.db")
    assert len(study.trials) == 2
    folder = project / "best_model" / "digit-pngs" / "export"
    assert sorted(p.name for p in folder.iterdir()) == [
        "MODEL_CARD.md", "export.json", "labels.json", "model.keras", "saved_model"
    ]

    out = _autodl("export", str(spec), "--formats", "all", "--retrain", "--register", cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Exported digit-pngs trial #{study.best_trial.number} (retrained) to" in out.stdout
    assert "registered as digit-pngs version 1" in out.stdout
    found = json.loads((folder / "export.json").read_text())
    assert found["trial"] == study.best_trial.number
    assert found["training"]["trained_on"] == ["train", "train_dev"]
    assert found["class_names"] == sorted(DIGIT_NAMES)
    assert found["input"] == {"kind": "image", "name": "inputs", "dtype": "float32",
                              "shape": [8, 8, 1], "color_mode": "grayscale"}
    assert list(found["formats"]) == ["keras", "saved_model", "tflite", "onnx"]
    assert all(info["max_abs_diff"] < 1e-4 for info in found["formats"].values())
    assert found["metrics"]["exported"]["test_accuracy"] > 0.8
    labels = json.loads((folder / "labels.json").read_text())
    assert labels == {"task": "multiclass", "class_names": sorted(DIGIT_NAMES)}
    card = (folder / "MODEL_CARD.md").read_text()
    assert "| train-dev | " in card and "**Verdict:**" in card and "## Size and latency" in card

    import onnxruntime
    import tensorflow as tf

    from autodl.data.images import read_image_folder

    images = read_image_folder(train, None, "grayscale").x[::15][:100]
    reference = keras.saving.load_model(folder / "model.keras").predict(images, verbose=0)
    served = tf.saved_model.load(str(folder / "saved_model"))
    np.testing.assert_allclose(served.serve(tf.constant(images)).numpy(), reference, atol=1e-4)
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
    np.testing.assert_allclose(session.run(None, {"inputs": images})[0], reference, atol=1e-4)
    interpreter = tf.lite.Interpreter(model_path=str(folder / "model.tflite"))
    source = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(source["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], images)
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(lite, reference, atol=1e-4)

    predicted = _autodl("predict", str(folder), str(unlabelled), "--out", "predictions.csv", cwd=project)
    assert predicted.returncode == 0, predicted.stdout + predicted.stderr
    assert "Wrote 40 predictions (keras) to predictions.csv" in predicted.stdout
    import pandas as pd

    table = pd.read_csv(project / "predictions.csv")
    assert list(table.columns) == ["id", "prediction", *(f"p_{n}" for n in sorted(DIGIT_NAMES))]
    assert table["id"].tolist() == sorted(p.name for p in unlabelled.iterdir())
    assert set(table["prediction"]) <= set(DIGIT_NAMES)
    assert np.mean(table["prediction"].to_numpy() == np.array(truth)) >= 0.85
    np.testing.assert_allclose(table.iloc[:, 2:].sum(axis=1), 1.0, atol=1e-4)
    onnx_run = runner.invoke(app, ["predict", str(folder), str(unlabelled), "--format", "onnx"])
    assert onnx_run.exit_code == 0, onnx_run.output
    from io import StringIO

    onnx_table = pd.read_csv(StringIO(onnx_run.stdout))
    assert onnx_table["prediction"].tolist() == table["prediction"].tolist()

    import mlflow

    client = mlflow.tracking.MlflowClient(mlflow_store())
    parent = study.user_attrs["mlflow_parent_run_id"]
    assert client.get_run(parent).info.status == "FINISHED"
    mlflow.set_tracking_uri(mlflow_store())
    experiment = client.get_experiment_by_name("digit-pngs").experiment_id
    logged = mlflow.search_logged_models(experiment_ids=[experiment], output_format="list")
    assert len(logged) == 3 and {m.source_run_id for m in logged} == {parent}
    version = client.get_registered_model("digit-pngs").latest_versions[0]
    assert str(version.version) == "1" and version.run_id == parent
    info = mlflow.models.get_model_info(found["mlflow"]["model_uri"])
    assert info.signature.inputs.to_dict()[0]["tensor-spec"] == {"dtype": "float32", "shape": (-1, 8, 8, 1)}
    for uri in (found["mlflow"]["model_uri"], "models:/digit-pngs/1"):
        predicted = mlflow.pyfunc.load_model(uri).predict(images)
        np.testing.assert_allclose(np.asarray(predicted), reference, atol=1e-5, err_msg=uri)
    assert {a.path for a in client.list_artifacts(parent, "export")} == {
        "export/MODEL_CARD.md", "export/export.json", "export/labels.json"
    }


@pytest.mark.slow
def test_text_search_exports_token_id_formats_with_a_standalone_preprocessor(
    project: Path, write_spec: Any
) -> None:
    spec = write_spec({
        "name": "reviews", "seed": 0,
        "data": {"source": str(SENTENCES)},
        "model": {"family": "rnn", "cell": "lstm", "units": 16, "vocab_size": 3000,
                  "sequence_length": 32, "embedding_dim": 16, "dense_units": 0},
        "optimizer": {"name": "adam", "learning_rate": 0.005},
        "training": {"epochs": 3, "batch_size": 64},
        "search": {"trials": 1, "pruner": {"name": "none"}},
        "tracking": {"uri": mlflow_store()},
        "export": {"formats": ["keras", "tflite", "onnx"]},
    })
    runner = CliRunner()
    searched = runner.invoke(app, ["search", str(spec), "--quiet"])
    assert searched.exit_code == 0, searched.output
    folder = project / "best_model" / "reviews" / "export"
    found = json.loads((folder / "export.json").read_text())
    assert found["input"]["dtype"] == "string"
    assert found["text"] == {"vectorizer": "text_vectorization.json",
                             "preprocess": "preprocess_text.py", "sequence_length": 32}
    texts, _ = load_sentences()
    sample = texts[::30]
    reference = keras.saving.load_model(folder / "model.keras").predict(sample, verbose=0)
    sys.path.insert(0, str(folder))
    try:
        import preprocess_text
    finally:
        sys.path.remove(str(folder))
    ids = preprocess_text.TextEncoder.from_file(folder / "text_vectorization.json").encode(sample)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(folder / "model.onnx"))
    np.testing.assert_allclose(session.run(None, {"inputs": ids})[0], reference, atol=1e-4)
    lite = formats.loader("tflite", folder, None)(ids)
    np.testing.assert_allclose(lite, reference, atol=1e-4)
    import mlflow

    mlflow.set_tracking_uri(mlflow_store())
    by_run = mlflow.pyfunc.load_model(f"runs:/{found['mlflow']['run_id']}/model")
    np.testing.assert_allclose(np.asarray(by_run.predict(sample)), reference, atol=1e-5)

    lines = ["I loved this phone, it works great and the battery lasts", "",
             "Terrible. It broke after a day, a complete waste of money.",
             "The food was excellent and the staff were very friendly",
             "Worst movie ever: boring, badly acted and far too long"]
    (project / "sentences.txt").write_text("\n".join(lines) + "\n")
    for fmt in ("keras", "onnx"):
        result = runner.invoke(app, ["predict", str(folder.parent), str(project / "sentences.txt"),
                                     "--format", fmt])
        assert result.exit_code == 0, result.output
        from io import StringIO

        import pandas as pd

        table = pd.read_csv(StringIO(result.stdout))
        assert list(table.columns) == ["id", "text", "prediction", "p_0", "p_1"]
        assert table["id"].tolist() == ["line 1", "line 3", "line 4", "line 5"]
        assert table["prediction"].astype(str).tolist() == ["1", "0", "1", "0"], fmt
        assert table["text"].iloc[1] == lines[2]
