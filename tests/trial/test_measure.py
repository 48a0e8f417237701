"""The scores computed from predictions outside Keras (F1, multiclass AUC)."""

from __future__ import annotations

import numpy as np
import pytest

from autodl.trial.measure import scores


def test_binary_f1_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([[0.9], [0.2], [0.7], [0.1], [0.6]])
    # predicted 1, 0, 1, 0, 1: tp 2, fp 1, fn 1 -> precision 2/3, recall 2/3, f1 2/3; class 0:
    # recall 1/2, precision 1/2, f1 1/2 -> balanced accuracy and macro f1 both (2/3 + 1/2) / 2
    assert scores("binary", y, p) == {"f1": pytest.approx(2 / 3), "balanced_accuracy": pytest.approx(7 / 12),
                                      "macro_f1": pytest.approx(7 / 12)}


def test_a_rare_class_missed_costs_balanced_accuracy_not_accuracy() -> None:
    y = np.array([0] * 19 + [1])
    p = np.zeros((20, 1))
    found = scores("binary", y, p)
    assert found["balanced_accuracy"] == pytest.approx(0.5)
    assert found["macro_f1"] == pytest.approx((2 * 0.95 / 1.95) / 2)


def test_multiclass_macro_f1_and_auc() -> None:
    y = np.array([0, 1, 2, 2])
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    result = scores("multiclass", y, p)
    # predicted 0, 1, 2, 0: class f1 = 2/3, 1, 2/3 -> macro 7/9
    assert result["f1"] == pytest.approx(7 / 9)
    assert 0.5 < result["auc"] <= 1.0


def test_multiclass_auc_needs_every_class_present() -> None:
    y = np.array([0, 1, 1])
    p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    assert set(scores("multiclass", y, p)) == {"f1", "balanced_accuracy", "macro_f1"}


@pytest.mark.parametrize(
    ("task", "loss", "outputs"),
    [("binary", "binary_crossentropy", 1), ("multiclass", "sparse_categorical_crossentropy", 4),
     ("regression", "mse", 1), ("regression", "mae", 1)],
)
def test_one_pass_of_predictions_gives_what_keras_evaluate_reports(
    task: str, loss: str, outputs: int, fresh_keras: None
) -> None:
    """The search's per-split loss and metrics, computed from predictions, equal Keras's own
    ``evaluate`` on the same compiled model (an L2 penalty included in the loss)."""
    from autodl.data.dataset import Split
    from autodl.runtime.backend import load_keras
    from autodl.trial.compile import loss_and_metrics
    from autodl.trial.measure import evaluate_split

    keras = load_keras()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(203, 5)).astype("float32")
    y = {"binary": rng.integers(0, 2, 203), "multiclass": rng.integers(0, 4, 203),
         "regression": rng.normal(3.0, 2.0, 203).astype("float32")}[task]
    head = {"binary": "sigmoid", "multiclass": "softmax", "regression": None}[task]
    model = keras.Sequential([
        keras.Input((5,)),
        keras.layers.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.L2(0.01)),
        keras.layers.Dense(outputs, activation=head),
    ])
    compiled_loss, keras_metrics = loss_and_metrics(task, loss)
    model.compile(optimizer="adam", loss=compiled_loss, metrics=keras_metrics)
    split = Split(x, y)
    expected = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    found = evaluate_split(model, split, task, 32)
    assert set(expected) <= set(found)
    for name, value in expected.items():
        assert found[name] == pytest.approx(float(value), rel=1e-4, abs=1e-5), name
    assert ("f1" in found) == (task != "regression")


@pytest.mark.parametrize("kind", ["text", "table"])
def test_the_splits_predicted_in_one_call_score_as_each_alone(kind: str, fresh_keras: None) -> None:
    from autodl.data.dataset import Split
    from autodl.trial.measure import SEARCH_SPLITS, evaluate_split, evaluate_splits
    from tests.helpers import compiled, family_cfg, make_dataset

    data = make_dataset(kind, "multiclass", n=30)
    data.splits["dev"] = Split(data.train.x[3:20], data.train.y[3:20])
    model = compiled(family_cfg("rnn" if kind == "text" else "mlp"), data)
    together = evaluate_splits(model, data, batch_size=8)
    alone = {f"{name}_{key}": value for name in SEARCH_SPLITS
             for key, value in evaluate_split(model, data.splits[name], data.task, 8).items()}
    assert together == pytest.approx(alone, rel=1e-5)
    assert {"train_loss", "train_dev_accuracy", "dev_f1", "dev_auc"} <= set(together)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", range(6))
def test_numpy_scores_equal_scikit_learns(seed: int) -> None:
    from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

    from autodl.trial.measure import scores

    rng = np.random.default_rng(seed)
    classes = 3 + seed % 3
    y = rng.integers(0, classes - (seed == 5), size=300)  # seed 5: the last class never occurs
    counts = rng.integers(1, 5, size=(300, classes)).astype(float)
    probabilities = counts / counts.sum(axis=1, keepdims=True)  # few distinct values: ties in ranks
    probabilities[: 30 * (seed % 2)] = probabilities[0]  # more ties
    found = scores("multiclass", y, probabilities)
    chosen = probabilities.argmax(axis=1)
    assert found["f1"] == pytest.approx(f1_score(y, chosen, average="macro", zero_division=0))
    assert found["macro_f1"] == pytest.approx(
        f1_score(y, chosen, labels=list(range(classes)), average="macro", zero_division=0))
    assert found["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, chosen))
    if seed == 5:
        assert "auc" not in found
    else:
        assert found["auc"] == pytest.approx(roc_auc_score(y, probabilities, multi_class="ovr"))
    binary = (y > 0).astype(int)
    p = probabilities[:, 0:1]
    found = scores("binary", binary, p)
    labels = (p.reshape(-1) >= 0.5).astype(int)
    assert found["f1"] == pytest.approx(f1_score(binary, labels, zero_division=0))
    assert found["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(binary, labels))
    assert found["macro_f1"] == pytest.approx(f1_score(binary, labels, labels=[0, 1], average="macro",
                                                       zero_division=0))


@pytest.mark.usefixtures("fresh_keras")
@pytest.mark.parametrize("kind", ["image", "text"])
def test_forward_gives_predicts_outputs_chunk_by_chunk(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from autodl import models
    from autodl.trial import measure
    from tests.helpers import family_cfg, make_dataset

    data = make_dataset(kind, "multiclass", n=40)
    model = models.build_model(family_cfg("cnn" if kind == "image" else "rnn"), data)
    monkeypatch.setattr(measure, "EAGER_CHUNK_ROWS", 7)  # 6 chunks of at most 7 rows
    outputs = measure.forward(model, data.train.x, 4)
    assert outputs.shape == (40, 3)
    np.testing.assert_allclose(outputs, model.predict(data.train.x, batch_size=4, verbose=0), rtol=1e-5, atol=1e-6)
