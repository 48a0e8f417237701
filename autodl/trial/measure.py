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
"""In-memory splits up to this size together are predicted together (their copy is cheap)."""
EAGER_CHUNK_ROWS = 1024
EAGER_CHUNK_BYTES = 16 * 2**20
"""Largest chunk of in-memory examples one direct call of a model predicts (``forward``)."""
SEARCH_SPLITS = ("train", "train_dev", "dev")
"""The splits every complete trial is measured on; test is kept for the final model."""


def scores(task: str, y_true: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """F1, balanced accuracy, macro F1 (and multiclass one-vs-rest AUC) from model outputs; empty
    for regression. Balanced accuracy and macro F1 weigh every class alike, whatever its size.

    Computed in NumPy from one confusion matrix (scikit-learn's definitions: F1 of class 1 for
    binary, macro F1 over the classes present in labels or predictions, zero where undefined), in
    well under a millisecond where scikit-learn's calls took about 25 ms per split.
    """
    y = np.asarray(y_true).astype(int).reshape(-1)
    if task == "binary":
        labels = (predictions.reshape(-1) >= 0.5).astype(int)
        table = confusion(y, labels, 2)
        return {"f1": float(f1_per_class(table)[1]), **balanced(table)}
    if task == "multiclass":
        classes = predictions.shape[1]
        table = confusion(y, predictions.argmax(axis=1), classes)
        seen = (table.sum(axis=0) + table.sum(axis=1)) > 0
        result: dict[str, float] = {"f1": float(f1_per_class(table)[seen].mean()), **balanced(table)}
        if np.all(table.sum(axis=1) > 0):
            result["auc"] = one_vs_rest_auc(y, predictions)
        return result
    return {}


def confusion(y: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """Counts of (true class, predicted class): rows are the truth."""
    return np.bincount(y * classes + labels, minlength=classes * classes).reshape(classes, classes)


def f1_per_class(table: np.ndarray) -> np.ndarray:
    """Each class's F1 from a confusion matrix; 0 where it is undefined (no such labels or predictions)."""
    hits = np.diag(table).astype(float)
    total = table.sum(axis=0) + table.sum(axis=1)
    return np.divide(2 * hits, total, out=np.zeros_like(hits), where=total > 0)


def balanced(table: np.ndarray) -> dict[str, float]:
    """Balanced accuracy (mean recall over the classes present) and macro F1 (over every class)."""
    truth = table.sum(axis=1)
    present = truth > 0
    recall = np.diag(table)[present] / truth[present]
    return {"balanced_accuracy": float(recall.mean()) if present.any() else 0.0,
            "macro_f1": float(f1_per_class(table).mean())}


def one_vs_rest_auc(y: np.ndarray, predictions: np.ndarray) -> float:
    """The mean over classes of the AUC of each class's probability against the rest (ties share
    their ranks), scikit-learn's ``roc_auc_score(multi_class="ovr")``."""
    from scipy.stats import rankdata

    areas = []
    for c in range(predictions.shape[1]):
        positive = y == c
        ranks = rankdata(predictions[:, c])
        n_pos, n_neg = int(positive.sum()), int((~positive).sum())
        areas.append((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return float(np.mean(areas))


def predicted_scores(model: Any, split: Split, task: str, batch_size: int) -> dict[str, float]:
    """Metrics Keras does not log (F1, multiclass AUC), from the model's predictions."""
    if not metrics.computed_here(task) or len(split) == 0:
        return {}
    return scores(task, split.y, predict(model, split, batch_size))


def predict(model: Any, split: Split, batch_size: int) -> np.ndarray:
    """The model's outputs on a split, in its order: in-memory examples by ``forward``, streamed
    ones through ``model.predict``."""
    if split.stream is None:
        return forward(model, split.x, batch_size)
    return np.asarray(model.predict(**feed.predict_inputs(split, batch_size), verbose=0))


def forward(model: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's outputs on in-memory inputs, the model called directly a chunk at a time.

    ``model.predict`` traces a predict function for every new model, which costs more than
    predicting a few thousand small examples (0.2 to 0.3 s for a small CNN on 2 cores); a direct
    call traces nothing and gives the same outputs. Chunks hold at least a batch and at most
    ``EAGER_CHUNK_BYTES`` of input (up to ``EAGER_CHUNK_ROWS`` rows), so large inputs stay within
    a batch's memory.
    """
    row_bytes = max(1, x[:1].nbytes) if x.dtype != object else 64
    chunk = max(batch_size, min(EAGER_CHUNK_ROWS, EAGER_CHUNK_BYTES // row_bytes))
    return np.concatenate([np.asarray(model(x[i:i + chunk], training=False)) for i in range(0, len(x), chunk)])


def penalty(model: Any) -> float:
    """The model's weight penalties (L1/L2), which Keras adds to its loss."""
    return float(sum(float(np.asarray(p)) for p in model.losses))


def keras_metrics(model: Any, task: str, y_true: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """What ``model.evaluate`` reports for autodl's compiled heads (``trial.compile``), from outputs
    already predicted: the mean loss plus the model's regularization penalties, and accuracy and
    AUC (binary, with Keras's own thresholds) or MAE and RMSE (regression)."""
    keras = load_keras()
    loss_fn = keras.losses.get(model.loss)
    y = y_true.reshape(outputs.shape[:1] + (-1,)) if task != "multiclass" else y_true
    per_example = np.asarray(loss_fn(y.astype("float32"), outputs))
    found = {"loss": float(per_example.mean()) + penalty(model)}
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

    Small in-memory splits are predicted together, in as few chunks as ``forward`` allows.
    """
    splits = {name: data.splits[name] for name in names if len(data.splits[name])}
    found: dict[str, dict[str, float]]
    together = all(split.stream is None for split in splits.values()) and (
        sum(split.x.nbytes for split in splits.values()) <= ONE_CALL_BYTES
    )
    if predicted and splits and together:
        outputs = forward(model, np.concatenate([split.x for split in splits.values()]), batch_size)
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
    use (the model called directly, as ``forward`` does, so no predict function is traced for it),
    the size of the weights, the parameters, the time spent fitting."""
    split = data.splits["dev"] if len(data.splits["dev"]) else data.train
    batch = split.examples(slice(0, batch_size))
    size = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)
    return {
        "latency_ms": float(median_latency_ms(lambda b: np.asarray(model(b, training=False)), batch)),
        "model_size_mb": size / 1e6,
        "params": float(model.count_params()),
        "train_time_s": train_time_s,
    }


def model_summary(model: Any) -> str:
    """Keras's layer table of ``model`` as text."""
    lines: list[str] = []
    model.summary(print_fn=lambda text, *args, **kwargs: lines.append(text))
    return "\n".join(lines)
