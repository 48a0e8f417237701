"""Measuring a trained model: loss and metrics per split, from one pass of predictions, and what
satisficing constraints compare (latency, size, parameters).

The one owner of "the metrics of a split": the search's train / train-dev / dev scores, the final
test score and a retrained model's test score all come from ``evaluate_split``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from autodl.data import feed
from autodl.data.dataset import Dataset, Split
from autodl.runtime.backend import load_keras
from autodl.spec import metrics

LATENCY_RUNS = 5
"""Timed calls behind a median latency (after one warm-up call)."""
ONE_CALL_BYTES = 256 * 2**20
"""In-memory splits up to this size together are predicted in one call (their copy is cheap)."""
SEARCH_SPLITS = ("train", "train_dev", "dev")
"""The splits every complete trial is measured on; test is kept for the final model."""


def scores(task: str, y_true: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """F1, balanced accuracy, macro F1 (and multiclass one-vs-rest AUC) from model outputs; empty
    for regression. Balanced accuracy and macro F1 weigh every class alike, whatever its size."""
    from sklearn.metrics import f1_score, roc_auc_score

    if task == "binary":
        labels = (predictions.reshape(-1) >= 0.5).astype(int)
        return {"f1": float(f1_score(y_true, labels, zero_division=0)),
                **balanced(y_true, labels, (0, 1))}
    if task == "multiclass":
        chosen = predictions.argmax(axis=1)
        result: dict[str, float] = {
            "f1": float(f1_score(y_true, chosen, average="macro", zero_division=0)),
            **balanced(y_true, chosen, tuple(range(predictions.shape[1]))),
        }
        present = np.unique(y_true)
        if len(present) == predictions.shape[1]:
            result["auc"] = float(roc_auc_score(y_true, predictions, multi_class="ovr"))
        return result
    return {}


def balanced(y_true: np.ndarray, labels: np.ndarray, classes: tuple[int, ...]) -> dict[str, float]:
    """Balanced accuracy (mean recall over the classes present) and macro F1 (over every class)."""
    from sklearn.metrics import f1_score

    y = np.asarray(y_true).astype(int).reshape(-1)
    present = np.unique(y)
    recall = [float(np.mean(labels[y == c] == c)) for c in present]
    return {"balanced_accuracy": float(np.mean(recall)) if recall else 0.0,
            "macro_f1": float(f1_score(y, labels, labels=list(classes), average="macro", zero_division=0))}


def predicted_scores(model: Any, split: Split, task: str, batch_size: int) -> dict[str, float]:
    """Metrics Keras does not log (F1, multiclass AUC), from the model's predictions."""
    if not metrics.computed_here(task) or len(split) == 0:
        return {}
    return scores(task, split.y, predict(model, split, batch_size))


def predict(model: Any, split: Split, batch_size: int) -> np.ndarray:
    """The model's outputs on a split, in its order."""
    return np.asarray(model.predict(**feed.predict_inputs(split, batch_size), verbose=0))


def keras_metrics(model: Any, task: str, y_true: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """What ``model.evaluate`` reports for autodl's compiled heads (``trial.compile``), from outputs
    already predicted: the mean loss plus the model's regularization penalties, and accuracy and
    AUC (binary, with Keras's own thresholds) or MAE and RMSE (regression)."""
    keras = load_keras()
    loss_fn = keras.losses.get(model.loss)
    y = y_true.reshape(outputs.shape[:1] + (-1,)) if task != "multiclass" else y_true
    per_example = np.asarray(loss_fn(y.astype("float32"), outputs))
    penalty = float(sum(float(np.asarray(p)) for p in model.losses))
    found = {"loss": float(per_example.mean()) + penalty}
    if task == "multiclass":
        found["accuracy"] = float(np.mean(outputs.argmax(axis=1) == y_true))
    elif task == "binary":
        found["accuracy"] = float(np.mean((outputs.reshape(-1) > 0.5) == (y_true.reshape(-1) > 0.5)))
        auc = keras.metrics.AUC(name="auc")
        auc.update_state(y.astype("float32"), outputs)
        found["auc"] = float(auc.result())
    else:
        error = outputs.reshape(-1) - y_true.reshape(-1).astype(outputs.dtype)
        found["mae"] = float(np.mean(np.abs(error)))
        found["rmse"] = float(np.sqrt(np.mean(np.square(error))))
    return found


def evaluate_split(
    model: Any, split: Split, task: str, batch_size: int, predicted: bool = True
) -> dict[str, float]:
    """Loss and metrics of a compiled model on one split (empty for an empty split).

    ``predicted`` is for models with autodl's heads and loss: one pass of predictions gives the
    loss, Keras's metrics, F1 and multiclass AUC. A model its builder compiled (a custom
    ``build(hp)``, its own loss and metrics) is measured by its own ``evaluate``.
    """
    if len(split) == 0:
        return {}
    if not predicted:
        found = model.evaluate(**feed.eval_inputs(split, batch_size), verbose=0, return_dict=True)
        return {key: float(value) for key, value in found.items()}
    return from_outputs(model, task, split.y, predict(model, split, batch_size))


def from_outputs(model: Any, task: str, y_true: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """Every metric of a split from its predicted outputs."""
    return {**keras_metrics(model, task, y_true, outputs), **scores(task, y_true, outputs)}


def evaluate_splits(
    model: Any, data: Dataset, batch_size: int, predicted: bool = True,
    names: tuple[str, ...] = SEARCH_SPLITS,
) -> dict[str, float]:
    """``<split>_<metric>`` for each named split (train, train-dev and dev by default).

    Small in-memory splits are predicted in one call, so Keras traces its predict function once
    per model instead of once per split size (tracing costs more than predicting them).
    """
    splits = {name: data.splits[name] for name in names if len(data.splits[name])}
    found: dict[str, dict[str, float]]
    together = all(split.stream is None for split in splits.values()) and (
        sum(split.x.nbytes for split in splits.values()) <= ONE_CALL_BYTES
    )
    if predicted and splits and together:
        inputs = np.concatenate([split.x for split in splits.values()])
        outputs = np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0))
        ends = np.cumsum([len(split) for split in splits.values()])
        found = {
            name: from_outputs(model, data.task, split.y, outputs[end - len(split):end])
            for (name, split), end in zip(splits.items(), ends, strict=True)
        }
    else:
        found = {name: evaluate_split(model, split, data.task, batch_size, predicted)
                 for name, split in splits.items()}
    return {f"{name}_{key}": value for name, values in found.items() for key, value in values.items()}


def median_latency_ms(run: Callable[[Any], Any], batch: Any, runs: int = LATENCY_RUNS) -> float:
    """The median time of ``runs`` calls of ``run(batch)``, in milliseconds, after a warm-up."""
    run(batch)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run(batch)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(model: Any, data: Dataset, batch_size: int, train_time_s: float) -> dict[str, float]:
    """What satisficing constraints compare: the median time to predict one batch on the device in
    use, the size of the weights, the parameters, the time spent fitting."""
    split = data.splits["dev"] if len(data.splits["dev"]) else data.train
    batch = split.examples(slice(0, batch_size))
    size = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)
    return {
        "latency_ms": float(median_latency_ms(model.predict_on_batch, batch)),
        "model_size_mb": size / 1e6,
        "params": float(model.count_params()),
        "train_time_s": train_time_s,
    }


def model_summary(model: Any) -> str:
    """Keras's layer table of ``model`` as text."""
    lines: list[str] = []
    model.summary(print_fn=lambda text, *args, **kwargs: lines.append(text))
    return "\n".join(lines)
