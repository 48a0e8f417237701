"""The diagnosis on real data, end to end through the CLI.

Cross-site: a model trained on two review sites and evaluated on a third must be told it faces
data mismatch. Amazon and Yelp sentences are short product and restaurant remarks; IMDb sentences
are longer and about films. A small, strongly regularized Conv1D (a 500-word vocabulary, about
4,200 weights, dropout 0.6, L2, five epochs) keeps the train / train-dev gap small, so the jump to
the IMDb dev split stands out. All 1,000 IMDb sentences are dev (no test split), which halves the
noise of the dev error. The same trained search then gets its learning curve (`autodl diagnose`).

Small table: scikit-learn's wine data (178 rows, so 18 dev rows, split at random) must not be
read as data mismatch or any other gap the noise could explain.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autodl.cli import app
from tests.helpers import SENTENCES

pytestmark = pytest.mark.slow


SPEC = {
    "name": "sites-mismatch",
    "seed": 0,
    "data": {
        "source": str(SENTENCES),
        "split": {"train_files": ["amazon_cells_labelled.txt", "yelp_labelled.txt"],
                  "dev_files": ["imdb_labelled.txt"], "train_dev": 0.1, "test": 0},
    },
    "model": {"family": "cnn", "vocab_size": 500, "sequence_length": 32, "embedding_dim": 8,
              "blocks": 1, "filters": 8, "kernel_size": 3, "pooling": "none", "head": "global_max",
              "dropout": 0.6, "dense_layers": 0, "l2": 3.0e-3},
    "optimizer": {"name": "adam", "learning_rate": 0.003},
    "training": {"epochs": 5, "batch_size": 32},
    "search": {"trials": 1, "pruner": {"name": "none"}},
    "diagnostics": {"learning_curve_shares": [0.25, 0.5, 1.0]},
    "tracking": {"enabled": False},
}


def test_two_sites_against_imdb_is_data_mismatch_and_gets_a_learning_curve(project: Path) -> None:
    path = project / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    result = CliRunner().invoke(app, ["search", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    folder = project / "best_model" / "sites-mismatch"
    record = json.loads((folder / "best.json").read_text())
    assert record["data"]["sizes"] == {"train": 1800, "train_dev": 200, "dev": 1000, "test": 0}
    diagnosis = record["diagnosis"]
    errors = diagnosis["errors"]
    shown = ", ".join(f"{k} {v['error']:.3f} (n={v['n']})" for k, v in errors.items())
    assert {k: v["n"] for k, v in errors.items()} == {"train": 1800, "train_dev": 200, "dev": 1000}
    assert diagnosis["origin"] == "by_file"
    mismatch = diagnosis["gaps"]["data_mismatch"]
    assert "data mismatch" in diagnosis["verdict"], f"{diagnosis['verdict']} ({shown})"
    assert mismatch["clear"] and mismatch["size"] > mismatch["resolvable"] >= 2 * mismatch["se"] > 0
    assert diagnosis["gaps"]["variance"]["size"] <= 0.15, f"train-dev is far above train: {shown}"
    assert "dev_overfitting" not in diagnosis["gaps"]
    assert any(step.startswith("make the training data more like dev") for step in diagnosis["recommendations"])
    names = [score["name"] for score in record["baselines"]["scores"]]
    assert names[0] == "majority" and "tfidf_logistic_regression" in names
    text = (folder / "diagnosis.md").read_text()
    assert "data mismatch" in text and "| dev | 1000 |" in text and "tfidf_logistic_regression" in text
    assert "Verdict:" in result.output and "data mismatch" in result.output

    diagnosed = CliRunner().invoke(app, ["diagnose", str(path), "--quiet"])
    assert diagnosed.exit_code == 0, diagnosed.output
    curve = json.loads((folder / "best.json").read_text())["learning_curve"]
    assert [p["share"] for p in curve["points"]] == [0.25, 0.5, 1.0]
    assert [p["n_train"] for p in curve["points"]] == [450, 900, 1800]
    assert all(p["dev"]["n"] == 1000 for p in curve["points"])
    assert curve["trend"] in ("falling", "flat", "unclear")
    assert (folder / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Dev error" in diagnosed.output and "learning_curve.png" in diagnosed.output
    redone = json.loads((folder / "best.json").read_text())["diagnosis"]
    assert redone["curve_trend"] == curve["trend"] and redone["curve_reading"] in (folder / "diagnosis.md").read_text()


def test_a_small_random_table_is_not_read_as_a_gap_it_cannot_resolve(project: Path) -> None:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "label"})
    frame.to_csv(project / "wine.csv", index=False)
    spec = {
        "name": "wine", "seed": 0, "data": {"source": "wine.csv"},
        "model": {"family": "mlp", "layers": 1, "units": 16},
        "optimizer": {"name": "adam", "learning_rate": 0.01},
        "training": {"epochs": 15, "batch_size": 16},
        "search": {"trials": 1, "pruner": {"name": "none"}},
        "diagnostics": {"learning_curve": True},
        "export": {"formats": []},
        "tracking": {"enabled": False},
    }
    path = project / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = CliRunner().invoke(app, ["search", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    record = json.loads((project / "best_model" / "wine" / "best.json").read_text())
    diagnosis = record["diagnosis"]
    assert record["data"]["sizes"]["dev"] == 18 and diagnosis["errors"]["dev"]["n"] == 18
    assert diagnosis["origin"] == "random" and "data_mismatch" not in diagnosis["gaps"]
    assert "data mismatch" not in diagnosis["verdict"]
    for name, gap in diagnosis["gaps"].items():
        assert gap["clear"] == (gap["size"] > gap["resolvable"] + 1e-9), name
        assert name not in diagnosis["problems"] or gap["size"] > 2 * gap["se"]
    assert any("avoidable bias is not claimed" in note for note in diagnosis["notes"])
    assert "avoidable bias" not in diagnosis["verdict"]
    logistic = next(s for s in record["baselines"]["scores"] if s["name"] == "logistic_regression")
    assert logistic["errors"]["dev"]["n"] == 18
    assert "| dev | 18 |" in (project / "best_model" / "wine" / "diagnosis.md").read_text()
    curve = record["learning_curve"]
    assert [p["n_train"] for p in curve["points"]] == [31, 62, 124]
    assert diagnosis["curve_trend"] == curve["trend"] and diagnosis["curve_reading"] in diagnosis["notes"]
    assert (project / "best_model" / "wine" / "learning_curve.png").is_file()
    assert "logistic_regression" in result.output
