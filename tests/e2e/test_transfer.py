"""End to end: transfer learning that transfers, offline. A small keras.applications backbone is
pretrained on half of the digit classes; `autodl search` with those weights, frozen, on the other
half (5% of their images, about 45, for training) beats the same backbone trained from scratch
at the same 10 epochs. That is the regime the recipe is for: few examples, short training. On
these easy 8x8 digits the backbone from scratch catches up once it trains longer on more
(measured on 2026-12-02: 90 images and 20 epochs, scratch 0.93 against frozen 0.68 dev accuracy;
features learned from five digit classes transfer only partly to the other five). Word vectors
trained on two review sites are used on the third (what that shows is in its test).

Marked slow (they train networks); CI runs them too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from autodl.cli import app
from tests.helpers import REPO, SENTENCES, mlflow_store

pytestmark = pytest.mark.slow

SPACES = REPO / "search_spaces"
SIDE = 32
"""The backbone's input side: the 8x8 digits are resized to it inside the model."""


def shipped(name: str) -> dict[str, Any]:
    return yaml.safe_load((SPACES / name).read_text())


def write(spec: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def search(spec: Path) -> dict[str, Any]:
    """Run `autodl search SPEC`; the best record it saved."""
    result = CliRunner().invoke(app, ["search", str(spec), "--quiet"])
    assert result.exit_code == 0, result.output
    name = yaml.safe_load(spec.read_text())["name"]
    return json.loads((spec.parent / "best_model" / name / "best.json").read_text())


def two_se(a: float, b: float, n: int) -> float:
    """Two standard errors of the difference of two accuracies on ``n`` examples each."""
    return 2 * math.sqrt((a * (1 - a) + b * (1 - b)) / n)


def trial_metrics(experiment: str) -> list[dict[str, float]]:
    import mlflow

    mlflow.set_tracking_uri(mlflow_store())
    runs = mlflow.search_runs(experiment_names=[experiment])
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    return [{k.removeprefix("metrics."): v for k, v in row.items() if k.startswith("metrics.")}
            for _, row in children.iterrows()]


def digit_folder(folder: Path, classes: range) -> None:
    """The digits of ``classes`` as 8x8 grayscale PNGs (0..255), one subfolder per class."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        if label in classes:
            (folder / str(label)).mkdir(parents=True, exist_ok=True)
            Image.fromarray((image * 255 / 16).astype("uint8"), mode="L").save(folder / str(label) / f"{i}.png")


def pretrain_backbone(path: Path) -> None:
    """MobileNetV3Small from random weights, trained on digits 0-4, its backbone saved alone."""
    from sklearn.datasets import load_digits

    from autodl.runtime.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(0)
    digits = load_digits()
    keep = digits.target < 5
    x = (digits.images[keep] * 255 / 16).astype("float32")[..., None]
    y = digits.target[keep]
    backbone = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(SIDE, SIDE, 3))
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9  # statistics that settle within a few epochs
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Resizing(SIDE, SIDE)(inputs)
    h = keras.layers.Concatenate()([h, h, h])
    h = keras.layers.GlobalAveragePooling2D()(backbone(h))
    model = keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=6, batch_size=32, validation_split=0.2, verbose=0)
    assert history.history["val_accuracy"][-1] > 0.9, history.history
    backbone.save_weights(path)


def one_fixed_trial(spec: dict[str, Any], learning_rate: float, epochs: int) -> dict[str, Any]:
    """``spec`` as one trial of fixed settings: Adam at ``learning_rate``, batches of 16, no pruning,
    no baselines, no export."""
    spec["optimizer"] = {"name": "adam", "learning_rate": learning_rate}
    spec["training"] = {"epochs": epochs, "batch_size": 16}
    spec["search"] = {"trials": 1, "pruner": {"name": "none"}, "objective": {"metric": "dev_accuracy"}}
    spec["diagnostics"] = {"baselines": False}
    spec["export"] = {"formats": []}
    return spec


def transfer_spec(name: str, weights: str, fine_tune: str) -> dict[str, Any]:
    """The shipped images_transfer.yaml on digits 5-9 with 5% of them to train on, one backbone."""
    spec = shipped("images_transfer.yaml")
    spec["name"] = name
    spec["data"] = {"source": "second", "color_mode": "grayscale",
                    "split": {"train": 0.05, "train_dev": 0.05, "dev": 0.5, "test": 0.4}}
    spec["model"] = {"family": "transfer", "backbone": "mobilenet_v3_small", "weights": weights,
                     "fine_tune": fine_tune, "head_epochs": 0.1, "fine_tune_learning_rate": 1e-2,
                     "image_size": SIDE, "dropout": 0.0, "dense_units": 0}
    return one_fixed_trial(spec, learning_rate=1e-2, epochs=10)


def test_a_frozen_pretrained_backbone_beats_the_same_backbone_from_scratch(project: Path) -> None:
    digit_folder(project / "second", range(5, 10))
    pretrain_backbone(project / "digits04.weights.h5")
    pretrained = transfer_spec("digits-pretrained", "digits04.weights.h5", "frozen")
    pretrained["export"]["formats"] = ["keras", "saved_model", "tflite", "onnx"]
    transferred = search(write(pretrained, project / "pretrained.yaml"))
    scratch = search(write(transfer_spec("digits-scratch", "none", "all"), project / "scratch.yaml"))

    dev_n = transferred["data"]["sizes"]["dev"]
    assert dev_n == scratch["data"]["sizes"]["dev"] and transferred["data"]["sizes"]["train"] < 50
    ours, theirs = transferred["metrics"]["dev_accuracy"], scratch["metrics"]["dev_accuracy"]
    margin = two_se(ours, theirs, dev_n)
    print(f"dev accuracy on {dev_n} images: pretrained frozen {ours:.3f}, from scratch {theirs:.3f} "
          f"(2 SE of the difference {margin:.3f})")
    assert ours - theirs > max(0.1, margin)

    assert not {"model.fine_tune_learning_rate", "model.head_epochs"} & set(transferred["hyperparameters"])
    assert scratch["hyperparameters"]["model.head_epochs"] == 0.1
    assert "model.fine_tune_layers" not in scratch["hyperparameters"]
    [frozen] = trial_metrics("digits-pretrained")
    assert (frozen["epochs_head"], frozen["epochs_fine_tune"], frozen["epochs"]) == (10, 0, 10)
    [tuned] = trial_metrics("digits-scratch")
    assert (tuned["epochs_head"], tuned["epochs_fine_tune"], tuned["epochs"]) == (1, 9, 10)

    export = project / "best_model" / "digits-pretrained" / "export"
    manifest = json.loads((export / "export.json").read_text())
    assert sorted(manifest["formats"]) == ["keras", "onnx", "saved_model", "tflite"]
    result = CliRunner().invoke(app, ["predict", str(export), str(project / "second"), "--format", "onnx"])
    assert result.exit_code == 0, result.output
    rows = result.output.strip().splitlines()
    assert len(rows) == 1 + sum(1 for _ in (project / "second").rglob("*.png"))


def train_vectors(path: Path, files: list[Path], dim: int = 16) -> None:
    """Word vectors from a quick sentiment model (embedding, average, logistic output) trained on
    the sentences of ``files``, written as a GloVe text file."""
    from autodl.runtime.backend import load_keras

    keras = load_keras()
    keras.utils.set_random_seed(0)
    lines = [line.rsplit("\t", 1) for file in files for line in file.read_text().splitlines() if "\t" in line]
    text = np.array([sentence for sentence, _ in lines], dtype=object)
    labels = np.array([int(label) for _, label in lines])
    vectorize = keras.layers.TextVectorization(max_tokens=5000, output_sequence_length=32)
    vectorize.adapt(text)
    embed = keras.layers.Embedding(len(vectorize.get_vocabulary()), dim)
    inputs = keras.Input((), dtype="string")
    pooled = keras.layers.GlobalAveragePooling1D()(embed(vectorize(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(text, labels, epochs=15, batch_size=32, verbose=0)
    table = embed.get_weights()[0]
    with path.open("w") as out:
        for index, word in enumerate(vectorize.get_vocabulary()):
            if word not in ("", "[UNK]"):
                out.write(word + " " + " ".join(f"{v:.5f}" for v in table[index]) + "\n")


def glove_spec(name: str, embeddings: str | None) -> dict[str, Any]:
    """The shipped sentiment_glove.yaml on the yelp sentences, 20% of them to train on, one GRU."""
    spec = shipped("sentiment_glove.yaml")
    spec["name"] = name
    spec["data"] = {"source": str(SENTENCES / "yelp_labelled.txt"),
                    "split": {"train": 0.2, "train_dev": 0.05, "dev": 0.4, "test": 0.35}}
    model = {"family": "rnn", "vocab_size": 2000, "sequence_length": 32, "cell": "gru", "units": 16,
             "bidirectional": False, "dropout": 0.0, "head_dropout": 0.0}
    if embeddings is None:
        model["embedding_dim"] = 16
    else:
        model.update(embeddings=embeddings, embeddings_trainable=False)
    spec["model"] = model
    return one_fixed_trial(spec, learning_rate=5e-3, epochs=8)


def test_word_vectors_from_two_review_sites_start_the_third(project: Path) -> None:
    """Vectors trained on amazon and imdb sentences, on yelp with 20% of it to train on.

    Frozen, the saved Embedding holds exactly the file's vectors. Trained on, they score about as
    well as an Embedding learned from random: measured on 2026-12-02, 0.735 against 0.700 dev
    accuracy on 400 sentences, inside the noise (2 SE 0.065), and 0.665 against 0.647 with 10% to
    train on. 16-dimensional vectors from 2,000 sentences carry little that 200 yelp sentences do
    not teach, so this test shows the vectors are used correctly, not that they help; GloVe's,
    trained on billions of words, are the ones that do.
    """
    from autodl.runtime.backend import load_keras

    train_vectors(project / "reviews16d.txt",
                  [SENTENCES / "amazon_cells_labelled.txt", SENTENCES / "imdb_labelled.txt"])
    result = CliRunner().invoke(app, ["search", str(write(glove_spec("yelp-frozen", "reviews16d.txt"),
                                                          project / "frozen.yaml"))])
    assert result.exit_code == 0, result.output
    found = [line for line in result.output.splitlines() if "Pretrained word vectors:" in line]
    assert len(found) == 1 and found[0].endswith("found in reviews16d.txt"), result.output
    [trial] = trial_metrics("yelp-frozen")
    assert 0.5 < trial["embeddings_coverage"] < 1.0
    frozen = json.loads((project / "best_model" / "yelp-frozen" / "best.json").read_text())
    assert "model.embedding_dim" not in frozen["hyperparameters"]
    assert frozen["hyperparameters"]["model.embeddings_trainable"] is False

    model = load_keras().saving.load_model(project / "best_model" / "yelp-frozen" / "model.keras")
    vocabulary = next(layer for layer in model.layers if type(layer).__name__ == "TextVectorization").get_vocabulary()
    table = model.get_layer("pretrained_embedding").get_weights()[0]
    vectors = {line.split(" ", 1)[0]: np.array(line.split(" ")[1:], dtype="float32")
               for line in (project / "reviews16d.txt").read_text().splitlines()}
    shared = [i for i, word in enumerate(vocabulary) if word in vectors]
    assert len(shared) > 0.5 * len(vocabulary)
    for i in shared:
        np.testing.assert_allclose(table[i], vectors[vocabulary[i]], atol=1e-5)
    assert not table[0].any()

    tuned_spec = glove_spec("yelp-tuned", "reviews16d.txt")
    tuned_spec["model"]["embeddings_trainable"] = True
    tuned = search(write(tuned_spec, project / "tuned.yaml"))
    learned = search(write(glove_spec("yelp-learned", None), project / "learned.yaml"))
    dev_n = tuned["data"]["sizes"]["dev"]
    ours, theirs = tuned["metrics"]["dev_accuracy"], learned["metrics"]["dev_accuracy"]
    margin = two_se(ours, theirs, dev_n)
    print(f"yelp dev accuracy on {dev_n} sentences: vectors from amazon + imdb, trained on, {ours:.3f}; "
          f"learned from random {theirs:.3f} (2 SE of the difference {margin:.3f})")
    assert ours > theirs - margin
