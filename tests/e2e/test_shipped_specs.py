"""End to end: the shipped specs through the real CLI on real data, then MLflow, the study and the
saved model read back; resuming after an interruption or kill -9.

Marked slow (they train networks); CI runs them too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from autodl.cli import app
from tests.helpers import REPO, SENTENCES, mlflow_store

pytestmark = pytest.mark.slow


SPACES = REPO / "search_spaces"


def shrunk(name: str, folder: Path, epochs: int, **search: object) -> Path:
    """A shipped spec with fewer epochs (and other search settings) for a quick run."""
    spec = yaml.safe_load((SPACES / name).read_text())
    spec["training"]["epochs"] = epochs
    spec["search"].update(search)
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def runs_of(experiment: str) -> tuple[object, object]:
    import mlflow

    mlflow.set_tracking_uri(mlflow_store())
    runs = mlflow.search_runs(experiment_names=[experiment])
    parents = runs[runs["tags.mlflow.parentRunId"].isna()]
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    return parents, children


def test_digits_search_tracks_every_trial_saves_the_best_and_resumes(project: Path) -> None:
    spec = shrunk("digits_cnn.yaml", project, epochs=4, trials=4)
    result = CliRunner().invoke(app, ["search", str(spec), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "digits-cnn: stopped (reached 4 trials)" in result.output
    assert "Best trial #" in result.output and "model.learning_rate" not in result.output

    parents, children = runs_of("digits-cnn")
    assert len(parents) == 1 and len(children) == 4
    parent_id = parents.iloc[0]["run_id"]
    assert set(children["tags.mlflow.parentRunId"]) == {parent_id}
    assert set(children["tags.state"]) <= {"complete", "pruned"}
    assert parents.iloc[0]["status"] == "FINISHED"

    import mlflow

    client = mlflow.tracking.MlflowClient(mlflow_store())
    first = children[children["tags.mlflow.runName"] == "trial-000"].iloc[0]
    history = client.get_metric_history(first["run_id"], "dev_accuracy")
    assert [m.step for m in history][:4] == [1, 2, 3, 4]
    assert {"loss", "accuracy", "dev_loss", "dev_accuracy"} <= {
        k.removeprefix("metrics.") for k in children.columns if k.startswith("metrics.")
    }
    assert first["params.optimizer.learning_rate"] is not None
    artifacts = {a.path for a in client.list_artifacts(parent_id)}
    assert {"spec.yaml", "best_trial.json", "best_model"} <= artifacts

    folder = project / "best_model" / "digits-cnn"
    record = json.loads((folder / "best.json").read_text())
    assert record["objective"]["metric"] == "dev_accuracy"
    assert record["objective"]["value"] == pytest.approx(record["metrics"]["dev_accuracy"])
    assert {"train_accuracy", "train_dev_accuracy", "dev_accuracy", "test_accuracy"} <= set(record["metrics"])
    assert record["class_names"] == [str(i) for i in range(10)]
    assert parents.iloc[0]["tags.best_trial"] == str(record["trial"])
    diagnosis = record["diagnosis"]
    errors = diagnosis["errors"]
    assert errors["train"]["error"] == pytest.approx(1 - record["metrics"]["train_accuracy"], abs=1e-6)
    assert errors["dev"]["n"] == record["data"]["sizes"]["dev"] and errors["dev"]["se"] > 0
    assert diagnosis["gaps"]["variance"]["size"] == pytest.approx(
        errors["train_dev"]["error"] - errors["train"]["error"])
    assert [s["name"] for s in record["baselines"]["scores"]] == ["majority", "logistic_regression"]
    assert parents.iloc[0]["tags.diagnosis"] == diagnosis["verdict"]
    assert (folder / "diagnosis.md").read_text().startswith("# Diagnosis (error = 1 - accuracy)")
    assert sorted(p.name for p in (folder / "analysis").iterdir()) == [
        "analysis.md", "confusion_matrix.png", "learning_curves.png", "worst_examples.png",
    ]
    assert set(record["error_analysis"]["per_class_error"]) == {str(i) for i in range(10)}
    assert "diagnosis.md" in {a.path for a in client.list_artifacts(parent_id)}
    assert {"best_model/analysis/confusion_matrix.png", "best_model/analysis/analysis.md"} <= {
        a.path for a in client.list_artifacts(parent_id, "best_model/analysis")
    }
    assert "Verdict:" in result.output

    import keras
    from sklearn.datasets import load_digits

    model = keras.saving.load_model(folder / "model.keras")
    digits = load_digits()
    probabilities = model.predict(digits.images[:200, :, :, None].astype("float32"), verbose=0)
    assert probabilities.shape == (200, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert np.mean(probabilities.argmax(axis=1) == digits.target[:200]) > 0.5

    import optuna

    study = optuna.load_study(study_name="digits-cnn", storage="sqlite:///mlruns/optuna.db")
    assert len(study.trials) == 4

    again = CliRunner().invoke(app, ["search", str(spec), "--trials", "6", "--quiet"])
    assert again.exit_code == 0, again.output
    assert "(2 run now)" in again.output
    study = optuna.load_study(study_name="digits-cnn", storage="sqlite:///mlruns/optuna.db")
    assert [t.number for t in study.trials] == list(range(6))
    parents, children = runs_of("digits-cnn")
    assert list(parents["run_id"]) == [parent_id]
    assert len(children) == 6


def test_sentiment_rnn_on_local_sentences_predicts_raw_text(project: Path) -> None:
    spec = shrunk("sentiment_lstm.yaml", project, epochs=3, trials=2)
    result = CliRunner().invoke(app, ["search", str(spec), "--data", str(SENTENCES), "--quiet"])
    assert result.exit_code == 0, result.output
    record = json.loads((project / "best_model" / "sentiment-lstm" / "best.json").read_text())
    assert record["task"] == "binary" and record["class_names"] == ["0", "1"]
    assert record["data"]["sizes"] == {"train": 2100, "train_dev": 300, "dev": 300, "test": 300}
    assert record["hyperparameters"]["model.cell"] in ("lstm", "gru")

    import keras

    model = keras.saving.load_model(project / "best_model" / "sentiment-lstm" / "model.keras")
    sentences = np.array(["I loved this phone, it works great", "Terrible. Broke after a day."], dtype=object)
    out = model.predict(sentences, verbose=0)
    assert out.shape == (2, 1) and np.all((out >= 0) & (out <= 1))
    _, children = runs_of("sentiment-lstm")
    assert len(children) == 2


def test_keras_dataset_offline_is_a_clear_error(project: Path) -> None:
    result = CliRunner().invoke(app, ["search", str(SPACES / "sentiment_lstm.yaml"), "--quiet"])
    assert result.exit_code == 2
    flat = result.output.replace("\n", " ")
    error = flat[flat.index("Error: "):]
    assert error.startswith("Error: Could not load keras:imdb: Keras downloads it on first use and that failed")
    assert "point --data at data on disk." in flat
    assert "Traceback" not in result.output


def _autodl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "autodl", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


def test_digits_demo_spec_reaches_097_in_the_console_script(project: Path) -> None:
    """The README's demo as shipped: at least 20 trials with median pruning, best dev >= 0.97."""
    out = _autodl("search", str(SPACES / "digits_cnn.yaml"), cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
    record = json.loads((project / "best_model" / "digits-cnn" / "best.json").read_text())
    assert record["objective"]["value"] >= 0.97
    import optuna

    study = optuna.load_study(study_name="digits-cnn", storage="sqlite:///mlruns/optuna.db")
    assert len(study.trials) >= 20
    assert "WARNING: All log messages before absl" not in out.stderr
    assert "trial 0 " in out.stderr


def test_sentiment_spec_reaches_078_on_the_shared_sentences(project: Path) -> None:
    out = _autodl("search", str(SPACES / "sentiment_lstm.yaml"), "--data", str(SENTENCES), "--quiet", cwd=project)
    assert out.returncode == 0, out.stdout + out.stderr
    record = json.loads((project / "best_model" / "sentiment-lstm" / "best.json").read_text())
    assert record["objective"]["value"] >= 0.78


def test_classic_mnist_cnn_trains_as_written_on_digits(project: Path) -> None:
    spec = shrunk("mnist_cnn_classic.yaml", project, epochs=2)
    result = CliRunner().invoke(app, ["search", str(spec), "--data", "digits", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "mnist-cnn-classic: stopped (reached 1 trial); 1 complete, 0 pruned, 0 failed" in result.output
    import keras

    model = keras.saving.load_model(project / "best_model" / "mnist-cnn-classic" / "model.keras")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Normalization", "Conv2D", "Activation", "MaxPooling2D", "Conv2D",
                     "Activation", "MaxPooling2D", "Flatten", "Dropout", "Dense"]
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size) for c in convs] == [(32, (3, 3)), (64, (3, 3))]
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == (3 * 3 * 1 * 32 + 32) + (3 * 3 * 32 * 64 + 64) + (2 * 2 * 64 * 10 + 10)
    assert model.layers[-2].rate == 0.5 and model.layers[-1].units == 10


def test_classic_sentiment_bilstm_trains_as_written(project: Path) -> None:
    spec = shrunk("sentiment_bilstm_classic.yaml", project, epochs=1)
    result = CliRunner().invoke(app, ["search", str(spec), "--data", str(SENTENCES), "--quiet"])
    assert result.exit_code == 0, result.output
    import keras

    model = keras.saving.load_model(project / "best_model" / "sentiment-bilstm-classic" / "model.keras")
    bidirectional = [layer for layer in model.layers if type(layer).__name__ == "Bidirectional"]
    assert len(bidirectional) == 1
    lstm = bidirectional[0].forward_layer
    assert (lstm.units, lstm.dropout, lstm.recurrent_dropout) == (64, 0.2, 0.2)
    embedding = next(layer for layer in model.layers if type(layer).__name__ == "Embedding")
    assert embedding.output_dim == 128
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert [d.units for d in dense] == [64, 1]
    assert next(layer for layer in model.layers if type(layer).__name__ == "Dropout").rate == 0.5


@pytest.mark.parametrize(
    ("name", "data", "study"),
    [
        ("sentiment_gru.yaml", str(SENTENCES), "sentiment-gru"),
        ("sentiment_conv1d.yaml", str(SENTENCES), "sentiment-conv1d"),
        ("digits_mlp.yaml", None, "digits-mlp"),
    ],
)
def test_searched_specs_run(name: str, data: str | None, study: str, project: Path) -> None:
    spec = shrunk(name, project, epochs=2, trials=2)
    args = ["search", str(spec), "--quiet"] + (["--data", data] if data else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    record = json.loads((project / "best_model" / study / "best.json").read_text())
    metric = record["objective"]["metric"]
    assert record["metrics"][metric] == pytest.approx(record["objective"]["value"])
    assert record["metrics"]["test_accuracy"] > 0.4
    _, children = runs_of(study)
    assert len(children) == 2


def test_coarse_to_fine_zooms_in_around_the_best_trials(project: Path) -> None:
    spec = shrunk("digits_cnn_coarse_to_fine.yaml", project, epochs=3, trials=9, stages=3,
                  pruner={"name": "none"})
    result = CliRunner().invoke(app, ["search", str(spec), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Coarse-to-fine stages" in result.output
    import optuna

    from autodl.spec import space

    study = optuna.load_study(study_name="digits-cnn-c2f", storage="sqlite:///mlruns/optuna.db")
    assert [t.user_attrs["stage"] for t in study.trials] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    second = space.from_raw(study.user_attrs["stage_2_space"]["optimizer.learning_rate"])
    assert 1e-5 <= second.low <= second.high <= 1e-1
    stage1 = sorted((t for t in study.trials if t.user_attrs["stage"] == 1 and t.value is not None),
                    key=lambda t: -t.value)
    for trial in stage1[:2]:
        assert second.low <= trial.params["optimizer.learning_rate"] <= second.high
    for trial in study.trials:
        if trial.user_attrs["stage"] == 2:
            assert second.low <= trial.params["optimizer.learning_rate"] <= second.high
    parents, children = runs_of("digits-cnn-c2f")
    assert sorted(children["tags.stage"].tolist()) == ["1"] * 3 + ["2"] * 3 + ["3"] * 3
    import mlflow

    client = mlflow.tracking.MlflowClient(mlflow_store())
    downloaded = client.download_artifacts(parents.iloc[0]["run_id"], "stages.json", str(project))
    stages = json.loads(Path(downloaded).read_text())
    assert set(stages) == {"stage 1", "stage 2", "stage 3"}
    assert stages["stage 1"]["optimizer.learning_rate"] == "float [1e-05, 0.1] log"


def test_resume_after_kill_9_loses_and_repeats_nothing(project: Path) -> None:
    import signal
    import time

    import optuna

    def tracked(number: int) -> bool:
        """Whether the running trial's MLflow run exists yet (a trial is RUNNING in the study a
        moment before its run is created; a kill in that moment leaves no run to close)."""
        _, children = runs_of("digits-cnn") if (project / "mlruns" / "mlflow.db").is_file() else (None, None)
        return children is not None and len(children) > 0 and str(number) in set(children["tags.trial"])

    spec = shrunk("digits_cnn.yaml", project, epochs=10, trials=6, pruner={"name": "none"})
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "autodl", "search", str(spec), "--quiet"],
                               cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    storage = f"sqlite:///{project / 'mlruns' / 'optuna.db'}"
    deadline = time.monotonic() + 900
    before: dict[int, tuple[float, dict]] = {}
    while time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            trials = optuna.load_study(study_name="digits-cnn", storage=storage).trials
        except Exception:  # the study is not created yet
            continue
        complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        if len(complete) >= 2 and running and tracked(running[0].number):
            process.send_signal(signal.SIGKILL)
            process.wait()
            before = {t.number: (t.value, t.params) for t in complete}
            break
    assert before, "the search never had two complete trials and one running"
    killed = optuna.load_study(study_name="digits-cnn", storage=storage)
    orphans = [t.number for t in killed.trials if t.state == optuna.trial.TrialState.RUNNING]
    assert len(orphans) == 1

    again = _autodl("search", str(spec), "--quiet", cwd=project)
    assert again.returncode == 0, again.stdout + again.stderr
    study = optuna.load_study(study_name="digits-cnn", storage=storage)
    finished = [t for t in study.trials if t.state.is_finished()]
    kept = [t for t in finished if t.state != optuna.trial.TrialState.FAIL]
    assert len(kept) == 6 and len(finished) == 7 and len(study.trials) == 7
    for number, (value, params) in before.items():
        assert (study.trials[number].value, study.trials[number].params) == (value, params)
    orphan = study.trials[orphans[0]]
    assert orphan.state == optuna.trial.TrialState.FAIL
    retries = [t for t in study.trials if t.user_attrs.get("retry_of") == orphan.number]
    assert len(retries) == 1 and retries[0].params == orphan.params
    assert retries[0].state == optuna.trial.TrialState.COMPLETE
    _, children = runs_of("digits-cnn")
    assert len(children) == 7
    assert (children["status"] == "RUNNING").sum() == 0
    failed = children[children["tags.state"] == "failed"]
    assert failed["tags.fail_reason"].tolist() == ["the search was killed during this trial"]
