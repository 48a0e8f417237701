"""Export: the format registry, text preprocessing without TensorFlow, each format loaded back and
matched against Keras on real samples, retraining data, the model card, and (slow) a real search
exported in a new process and used by ``autodl predict``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
from typer.testing import CliRunner

from autodl.cli import app
from autodl.data.dataset import Dataset, Split
from autodl.errors import AutodlError, SpecError
from autodl.export import bundle, formats, modelcard, retrain, textprep
from autodl.runtime.backend import load_keras
from autodl.spec import load_spec
from autodl.spec.sections import ExportFormat
from tests.conftest import SENTENCES, minimal_spec, mlflow_store

keras = load_keras()


def sentences() -> tuple[np.ndarray, np.ndarray]:
    """The 3,000 labelled review sentences (text, 0/1 label)."""
    texts, labels = [], []
    for file in sorted(SENTENCES.glob("*_labelled.txt")):
        for line in file.read_text(encoding="utf-8").splitlines():
            text, _, label = line.rpartition("\t")
            texts.append(text.strip())
            labels.append(int(label))
    return np.array(texts, dtype=object), np.array(labels)


def digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images[..., np.newaxis].astype("float32"), bunch.target


# --- the format registry -------------------------------------------------------------------


def test_registry_has_exactly_the_formats_the_spec_accepts() -> None:
    assert list(formats.FORMATS.names) == list(get_args(ExportFormat)) == ["keras", "saved_model", "tflite", "onnx"]


def test_unknown_format_lists_the_valid_ones() -> None:
    with pytest.raises(formats.ExportError) as caught:
        formats.get("tflight")
    assert str(caught.value) == (
        "Unknown export format. Expected one of keras, saved_model, tflite, onnx (or all). "
        "Did you mean 'tflite'? Received: format='tflight'"
    )


def test_parse_expands_all_splits_commas_and_drops_repeats() -> None:
    assert formats.parse(["onnx,keras", "keras", " tflite "]) == ["onnx", "keras", "tflite"]
    assert formats.parse(["keras", "all"]) == ["keras", "saved_model", "tflite", "onnx"]
    assert formats.parse([]) == []
    with pytest.raises(formats.ExportError, match="Received: format='pb'"):
        formats.parse(["keras,pb"])


def test_spec_export_section_defaults_and_checks(write_spec: Any) -> None:
    spec = load_spec(write_spec(minimal_spec()))
    assert (spec.export.formats, spec.export.retrain, spec.export.include_dev, spec.export.registry) == (
        ["keras", "saved_model"], False, False, False
    )
    assert bundle.options(spec) == bundle.ExportOptions(["keras", "saved_model"], False, False, None)
    named = load_spec(write_spec(minimal_spec(export={"registry": "digits-prod", "formats": []})))
    assert bundle.options(named) == bundle.ExportOptions([], False, False, "digits-prod")
    assert bundle.registry_name(spec, True) == "tiny"
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(minimal_spec(export={"formats": ["keras", "pb"]})))
    message = str(caught.value)
    assert "export.formats.1" in message and "'keras', 'saved_model', 'tflite' or 'onnx'" in message
    with pytest.raises(SpecError, match="include_dev adds dev to a retraining; set retrain: true"):
        load_spec(write_spec(minimal_spec(export={"include_dev": True})))


def test_an_existing_folder_is_replaced_only_when_it_is_an_export(tmp_path: Path) -> None:
    bundle.check_out(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    bundle.check_out(tmp_path / "empty")
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / bundle.MANIFEST_FILE).write_text("{}")
    bundle.check_out(earlier)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(AutodlError, match="is not an autodl export .* Choose another --out"):
        bundle.check_out(tmp_path / "mine")


# --- text preprocessing without TensorFlow -------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"ngrams": 2},
        {"standardize": "lower", "split": "whitespace", "ngrams": (1, 3)},
        {"standardize": None, "split": "character"},
        {"standardize": "strip_punctuation"},
    ],
)
def test_text_encoder_gives_the_ids_textvectorization_gives(settings: dict[str, Any]) -> None:
    texts, _ = sentences()
    tricky = ["ÉCOLE Straße ÀB", "tab\there\x0bvtab\x0cff", "nbsp\xa0inside", "  lead and trail  ",
              "", "!!!", "A" * 3 + " b" * 80, "unknownword zzzq"]
    sample = list(texts) + tricky
    layer = keras.layers.TextVectorization(max_tokens=400, output_sequence_length=20, **settings)
    layer.adapt(texts[:1500])
    expected = np.asarray(layer(np.array(sample, dtype=object)))
    encoder = textprep.TextEncoder(layer.get_config(), layer.get_vocabulary())
    got = encoder.encode(sample)
    assert got.dtype == np.int64 and got.shape == (len(sample), 20)
    assert np.array_equal(got, expected)


def test_text_encoder_refuses_what_it_cannot_reproduce() -> None:
    assert textprep.unsupported({"output_mode": "int", "standardize": None, "split": None,
                                 "output_sequence_length": 4}) is None
    assert "only 'int'" in textprep.unsupported({"output_mode": "tf_idf"})
    assert "no fixed length" in textprep.unsupported({"output_mode": "int", "standardize": None,
                                                      "split": None})
    with pytest.raises(ValueError, match="standardize is 'my_module.clean'"):
        textprep.TextEncoder({"standardize": "my_module.clean", "split": None,
                              "output_sequence_length": 4}, ["", "[UNK]"])


# --- each format loads back and matches Keras ----------------------------------------------


def image_model() -> tuple[Any, np.ndarray]:
    """A small digits CNN (normalization adapted inside), fit one epoch, and real digits."""
    keras.utils.set_random_seed(0)
    x, y = digits()
    inputs = keras.Input((8, 8, 1), name="inputs")
    norm = keras.layers.Normalization(axis=None)
    norm.adapt(x[:1000])
    h = keras.layers.Conv2D(8, 3, activation="relu")(norm(inputs))
    h = keras.layers.MaxPooling2D()(h)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(h))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:1000], y[:1000], epochs=1, verbose=0)
    return model, x[1000:1200]


def text_model() -> tuple[Any, np.ndarray]:
    """A bidirectional LSTM over TextVectorization built by autodl's rnn family, and real
    sentences."""
    from autodl.models import rnn
    from tests.test_models import family_cfg

    keras.utils.set_random_seed(0)
    texts, labels = sentences()
    split = Split(texts[:2000], labels[:2000])
    data = Dataset("sentences", "text", "binary", {"train": split, "train_dev": split,
                                                    "dev": split, "test": split}, ("0", "1"))
    cfg = family_cfg("rnn", vocab_size=500, sequence_length=16, embedding_dim=8, units=4,
                     bidirectional=True, dense_units=0)
    model = rnn.build(cfg, data)
    return model, texts[2000:2100]


@pytest.mark.parametrize("make", [image_model, text_model], ids=["image", "text"])
def test_every_format_loads_back_and_matches_keras(make: Any, tmp_path: Path) -> None:
    model, sample = make()
    prepared = formats.prepare(model)
    results = bundle.save_formats(prepared, list(formats.FORMATS.names), tmp_path, sample)
    reference = model.predict(sample, verbose=0)
    assert set(results) == set(formats.FORMATS.names)
    for name, info in results.items():
        assert info["max_abs_diff"] < 1e-4, name
        assert info["bytes"] > 0 and info["latency_ms"] > 0
    encode = None
    if prepared.vectorizer is not None:
        assert [info["raw_text"] for info in results.values()] == [True, True, False, False]
        encode = textprep.TextEncoder(prepared.vectorizer["config"], prepared.vectorizer["vocabulary"]).encode
    for name in formats.FORMATS.names:
        outputs = formats.loader(name, tmp_path, encode)(sample)
        assert outputs.shape == reference.shape
        np.testing.assert_allclose(outputs, reference, atol=1e-4, err_msg=name)


def test_text_model_splits_at_its_vectorization() -> None:
    model, sample = text_model()
    prepared = formats.prepare(model)
    assert prepared.numeric.inputs[0].dtype == "int64"
    assert prepared.numeric.inputs[0].shape == (None, 16)
    assert prepared.vectorizer["vocabulary"][:2] == ["", "[UNK]"]
    assert prepared.vectorizer["config"]["output_sequence_length"] == 16
    image, _ = image_model()
    assert formats.prepare(image).numeric is image and formats.prepare(image).vectorizer is None


def test_loader_says_which_format_is_missing(tmp_path: Path) -> None:
    with pytest.raises(formats.ExportError, match=f"{tmp_path} has no onnx model \\(model.onnx is missing\\)"):
        formats.loader("onnx", tmp_path, None)


def test_a_failed_export_after_a_search_is_reported_and_leaves_nothing_behind(
    write_spec: Any, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = load_spec(write_spec(minimal_spec(export={"dir": str(project / "best")})))
    x, y = digits()
    split = Split(x[:10], y[:10])
    data = Dataset("digits", "image", "multiclass", {s: split for s in ("train", "train_dev", "dev", "test")},
                   tuple(str(i) for i in range(10)))
    record = {"trial": 3, "config": {"model": {"family": "cnn"}}, "metrics": {}}
    with caplog.at_level("ERROR", logger="autodl"):
        assert bundle.after_search(spec, record, data, None) is None
    assert "export failed:" in caplog.text and "no saved model of the best trial #3" in caplog.text
    assert "Run `autodl export` once it is fixed." in caplog.text
    assert sorted(p.name for p in (project / "best").iterdir()) == []


# --- retraining ----------------------------------------------------------------------------


def record(epochs: int, early_stopping: int | None, dev_loss: list[float]) -> dict[str, Any]:
    return {"epochs": epochs, "history": {"dev_loss": dev_loss},
            "config": {"training": {"epochs": 10, "early_stopping": early_stopping}}}


def test_best_epochs_is_the_lowest_dev_loss_when_early_stopping_restored_it() -> None:
    assert retrain.best_epochs(record(6, 2, [0.9, 0.5, 0.4, 0.45, 0.5, 0.6])) == 3
    assert retrain.best_epochs(record(6, None, [0.9, 0.5, 0.4, 0.45, 0.5, 0.6])) == 6
    assert retrain.best_epochs(record(4, 2, [])) == 4


def test_training_data_joins_train_train_dev_and_optionally_dev() -> None:
    def split(value: int, n: int) -> Split:
        return Split(np.full((n, 2), value, dtype="float32"), np.full(n, value))

    data = Dataset("t", "tabular", "binary", {"train": split(0, 6), "train_dev": split(1, 2),
                                               "dev": split(2, 3), "test": split(3, 4)}, ("a", "b"))
    joined, names = retrain.training_data(data, include_dev=False)
    assert names == ["train", "train_dev"]
    assert joined.sizes() == {"train": 8, "train_dev": 0, "dev": 3, "test": 4}
    assert sorted(set(joined.train.y.tolist())) == [0, 1]
    joined, names = retrain.training_data(data, include_dev=True)
    assert names == ["train", "train_dev", "dev"] and len(joined.train) == 11
    assert joined.class_names == ("a", "b") and joined.splits["test"] is data.splits["test"]


# --- the model card ------------------------------------------------------------------------


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
        "diagnosis": {"metric": "error = 1 - accuracy", "human": 0.0, "train": 0.01, "train_dev": 0.05,
                      "dev": 0.1, "test": 0.12, "human_given": False, "tolerance": 0.01,
                      "gaps": {"avoidable_bias": 0.01, "variance": 0.04, "data_mismatch": 0.05,
                               "dev_overfitting": 0.02},
                      "problems": ["data_mismatch", "variance"]},
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
    assert "Parameters: 12,345; weights: 0.05 MB; Keras latency for one batch: 3.2 ms" in card
    assert "| onnx | `model.onnx` | 0.25 MB | 1.5 ms | 1e-07 |" in card
    assert "- **tflite** (`model.tflite`, takes token ids (see below))" in card
    assert "- **keras** (`model.keras`, takes raw input)" in card
    assert "one probability per example, of class 'positive'" in card
    assert "registered as `reviews`" in card and "run `abc123`" in card
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


# --- slow: a real search, exported in a new process, then autodl predict -------------------

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _autodl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "autodl", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def write_digit_folders(root: Path, held_out: int) -> tuple[Path, Path, list[str]]:
    """The digits as grayscale PNGs in one folder per class name (train), and ``held_out`` of
    them unlabelled in one flat folder (to predict); returns both and the held-out names."""
    import PIL.Image

    x, y = digits()
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
        "tracking": {"enabled": False},
        "export": {"formats": ["keras", "tflite", "onnx"]},
    })
    runner = CliRunner()
    searched = runner.invoke(app, ["search", str(spec), "--quiet"])
    assert searched.exit_code == 0, searched.output
    folder = project / "best_model" / "reviews" / "export"
    found = json.loads((folder / "export.json").read_text())
    assert found["input"]["dtype"] == "string" and "mlflow" not in found
    assert found["text"] == {"vectorizer": "text_vectorization.json",
                             "preprocess": "preprocess_text.py", "sequence_length": 32}
    texts, _ = sentences()
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


def test_shipped_preprocessor_needs_only_the_standard_library_and_numpy() -> None:
    source = Path(textprep.__file__).read_text()
    imports = {line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports == {"__future__", "json", "re", "collections.abc", "pathlib", "typing", "numpy"}
