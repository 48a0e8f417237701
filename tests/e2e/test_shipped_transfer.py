"""End to end: the two shipped transfer specs run offline with the commands their comments and
the README give, on a folder of digit images with a backbone weights file made here, and on the
sentiment sentences with a vectors file made here. Lean: one trial of one epoch each.

Marked slow (they train networks); CI runs them too.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from autodl.cli import app
from tests.e2e.test_transfer import digit_folder
from tests.helpers import REPO, SENTENCES

pytestmark = pytest.mark.slow

LEAN = ["--trials", "1", "--set", "training.epochs=1", "--set", "export.formats=[keras]", "--quiet"]
"""What the test adds to the documented command: one short trial, the Keras file only."""


def documented_command(spec: Path) -> list[str]:
    """The offline `autodl search` command in the spec's header comment, its arguments split."""
    lines = [line.removeprefix("#").strip() for line in spec.read_text().splitlines()]
    start = max(i for i, line in enumerate(lines) if line.startswith("autodl search"))
    text = ""
    for line in lines[start:]:
        text += line.removesuffix("\\").strip() + " "
        if not line.endswith("\\"):
            break
    return text.split()[1:]


def best(project: Path, name: str) -> dict:
    return json.loads((project / "best_model" / name / "best.json").read_text())


def test_images_transfer_runs_offline_with_a_weights_file(project: Path) -> None:
    """images_transfer.yaml as its comment says: --data photos, one backbone, a weights file."""
    from autodl.runtime.backend import load_keras

    spec = Path(shutil.copy(REPO / "search_spaces" / "images_transfer.yaml", project))
    command = documented_command(spec)
    assert command[:4] == ["search", "images_transfer.yaml", "--data", "path/to/photos"], command
    assert "model.weights=path/to/backbone.weights.h5" in command, command
    digit_folder(project / "photos", range(3))
    keras = load_keras()
    backbone = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(96, 96, 3))
    (project / "weights").mkdir()
    backbone.save_weights(project / "weights" / "mobilenet.weights.h5")
    args = [part.replace("path/to/photos", "photos").replace("path/to/backbone.weights.h5",
                                                             "weights/mobilenet.weights.h5")
            for part in command]
    args[1] = str(spec)
    result = CliRunner().invoke(app, args + LEAN)
    assert result.exit_code == 0, result.output
    found = best(project, "images-transfer")
    assert found["hyperparameters"]["model.backbone"] == "mobilenet_v3_small"
    assert found["class_names"] == ["0", "1", "2"]
    assert sum(found["data"]["sizes"].values()) == sum(1 for _ in (project / "photos").rglob("*.png"))
    model = keras.saving.load_model(project / "best_model" / "images-transfer" / "model.keras")
    [inner] = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    # The stem convolution stays frozen under both fine_tune choices: it holds the file's weights.
    np.testing.assert_array_equal(inner.weights[0].numpy(), backbone.weights[0].numpy())
    assert inner.weights[0].shape == (3, 3, 3, 16)


def test_sentiment_glove_runs_offline_with_a_vectors_file(project: Path) -> None:
    """sentiment_glove.yaml as its comment says: the sentiment sentences and a vectors file."""
    spec = Path(shutil.copy(REPO / "search_spaces" / "sentiment_glove.yaml", project))
    command = documented_command(spec)
    assert command[:4] == ["search", "sentiment_glove.yaml", "--data",
                           "../shared/data/sentiment_labelled_sentences"], command
    rng = np.random.default_rng(0)
    words = ["good", "bad", "great", "not", "the", "food", "phone", "movie", "was", "and"]
    with (project / "vectors.txt").open("w") as out:
        out.write(f"{len(words)} 8\n")  # fastText's header line
        for word in words:
            out.write(word + " " + " ".join(f"{v:.4f}" for v in rng.normal(size=8)) + "\n")
    args = [part.replace("../shared/data/sentiment_labelled_sentences", str(SENTENCES))
            .replace("path/to/vectors.txt", "vectors.txt") for part in command]
    args[1] = str(spec)
    result = CliRunner().invoke(app, args + LEAN[:-1])  # not --quiet: the coverage line is a log line
    assert result.exit_code == 0, result.output
    coverage = re.search(r"Pretrained word vectors: (\d+) of (\d+) vocabulary words \(.*\) found in vectors\.txt",
                         result.output)
    assert coverage is not None, result.output
    assert int(coverage.group(1)) == len(words)
    found = best(project, "sentiment-glove")
    assert "model.embedding_dim" not in found["hyperparameters"]  # it comes from the file
    assert "model.embeddings_trainable" in found["hyperparameters"]
    assert found["data"]["sizes"]["train"] > 1000
