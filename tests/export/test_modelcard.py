"""The model card rendered from an export manifest."""

from __future__ import annotations

from typing import Any

from autodl.export import formats, modelcard
from autodl.results.diagnosis import diagnose
from autodl.results.uncertainty import ERROR_RATE, from_rate


def manifest(text: bool = False, retrained: bool = True) -> dict[str, Any]:
    """A manifest as ``bundle.write_bundle`` writes it."""
    metrics = {f"{s}_{m}": v for s, base in (("train", 0.99), ("train_dev", 0.95), ("dev", 0.9),
                                             ("test", 0.88)) for m, v in (("accuracy", base), ("loss", 1 - base))}
    found = {
        "autodl_version": "0.1.0", "name": "reviews", "created": "2026-01-01T00:00:00+00:00",
        "family": "rnn", "task": "binary", "class_names": ["negative", "positive"],
        "input": {"kind": "text", "name": "text", "dtype": "string", "shape": []},
        "data": {"source": "sentences", "location": "data/sentences",
                 "sizes": {"train": 2100, "train_dev": 300, "dev": 300, "test": 300}},
        "trial": 7, "objective": {"metric": "dev_accuracy", "direction": "maximize", "value": 0.9},
        "hyperparameters": {"model.cell": "gru", "optimizer.learning_rate": 0.003},
        "training": {"retrained": retrained, "trained_on": ["train", "train_dev"] if retrained else ["train"],
                     "epochs": 5, "seed": 11},
        "metrics": {"search": metrics,
                    "exported": {"train_accuracy": 0.97, "test_accuracy": 0.91, "params": 12345.0,
                                 "model_size_mb": 0.05, "latency_ms": 3.2}},
        "diagnosis": diagnose(ERROR_RATE, {
            "train": from_rate("train", 0.01, 2100), "train_dev": from_rate("train_dev", 0.05, 300),
            "dev": from_rate("dev", 0.1, 300), "test": from_rate("test", 0.12, 300),
        }, human=0.0, origin="by_file").to_record(),
        "formats": {
            name: {"path": formats.get(name).path, "raw_text": formats.get(name).raw_text,
                   "bytes": 250_000, "max_abs_diff": 1e-7, "latency_ms": 1.5}
            for name in formats.FORMATS.names
        },
        "verified_on": {"split": "test", "examples": 64},
        "mlflow": {"run_id": "abc123", "tracking_uri": "sqlite:///mlruns/mlflow.db",
                   "model_uri": "models:/m-1", "registered_name": "reviews", "registered_version": 1},
    }
    if text:
        found["text"] = {"vectorizer": "text_vectorization.json", "preprocess": "preprocess_text.py",
                         "sequence_length": 32}
    return found


def test_model_card_covers_data_splits_hyperparameters_metrics_diagnosis_and_loading() -> None:
    how = {fmt.name: fmt.how_to_load for fmt in formats.FORMATS}
    card = modelcard.render(manifest(text=True), how)
    assert card.startswith("# Model card: reviews\n")
    for heading in ("## Data", "## Training", "## Metrics", "## Diagnosis (error = 1 - accuracy)",
                    "## Size and latency", "## Formats and how to load them",
                    "### Text models in TFLite and ONNX"):
        assert f"\n{heading}\n" in card, heading
    assert "Source: `data/sentences` (text data, binary task)" in card
    assert "| train-dev | 300 | yes |" in card and "| dev | 300 | no |" in card
    assert "| 0 | negative |" in card and "| 1 | positive |" in card
    assert "| model.cell | gru |" in card and "| optimizer.learning_rate | 0.003 |" in card
    assert "| split | loss | accuracy |" in card and "| test | 0.12 | 0.88 |" in card
    assert "retrained on train + train-dev for 5 epochs" in card
    assert "**Verdict:** data mismatch and variance." in card
    assert "| dev | 300 | 0.1 | 0.035 |" in card
    assert "Parameters: 12,345; weights: 0.05 MB; Keras latency for one batch: 3.2 ms" in card
    assert "| onnx | `model.onnx` | 0.25 MB | 1.5 ms | 1e-07 |" in card
    assert "- **tflite** (`model.tflite`, takes token ids (see below))" in card
    assert "- **keras** (`model.keras`, takes raw input)" in card
    assert "one probability per example, of class 'positive'" in card
    assert ("MLflow: model `models:/m-1` of run `abc123` in `sqlite:///mlruns/mlflow.db`; registered as "
            "`models:/reviews/1`. `mlflow.pyfunc.load_model(\"models:/m-1\").predict(x)` runs it on raw input, "
            "as `model.keras` does.") in card
    assert 'TextEncoder.from_file("text_vectorization.json").encode' in card


def test_model_card_of_an_unretrained_export_without_diagnosis() -> None:
    found = manifest(retrained=False)
    found["diagnosis"] = None
    del found["mlflow"]
    card = modelcard.render(found, {name: "load it" for name in formats.FORMATS.names})
    assert "the model trial 7 trained on train (5 epochs), as the search saved it" in card
    assert "The exported model (retrained" not in card and "MLflow" not in card
    assert "No diagnosis was recorded" in card
    assert "### Text models" not in card and "takes raw input" in card
