"""Measuring a trained model: loss and metrics per split (F1 and multiclass AUC from predictions,
the rest from Keras), and what satisficing constraints compare (latency, size, parameters).

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
from autodl.spec import metrics

LATENCY_RUNS = 5
"""Timed calls behind a median latency (after one warm-up call)."""
SEARCH_SPLITS = ("train", "train_dev", "dev")
"""The splits every complete trial is measured on; test is kept for the final model."""


def scores(task: str, y_true: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """F1 (and multiclass one-vs-rest AUC) from model outputs; empty for regression."""
    from sklearn.metrics import f1_score, roc_auc_score

    if task == "binary":
        labels = (predictions.reshape(-1) >= 0.5).astype(int)
        return {"f1": float(f1_score(y_true, labels, zero_division=0))}
    if task == "multiclass":
        result: dict[str, float] = {
            "f1": float(f1_score(y_true, predictions.argmax(axis=1), average="macro", zero_division=0))
        }
        present = np.unique(y_true)
        if len(present) == predictions.shape[1]:
            result["auc"] = float(roc_auc_score(y_true, predictions, multi_class="ovr"))
        return result
    return {}


def predicted_scores(model: Any, split: Split, task: str, batch_size: int) -> dict[str, float]:
    """Metrics Keras does not log (F1, multiclass AUC), from the model's predictions."""
    if not metrics.computed_here(task) or len(split) == 0:
        return {}
    outputs = model.predict(**feed.predict_inputs(split, batch_size), verbose=0)
    return scores(task, split.y, outputs)


def evaluate_split(
    model: Any, split: Split, task: str, batch_size: int, predicted: bool = True
) -> dict[str, float]:
    """Loss and metrics of a compiled model on one split (empty for an empty split).

    ``predicted`` adds F1 (and multiclass AUC) from predictions, for models with autodl's heads.
    """
    if len(split) == 0:
        return {}
    found = model.evaluate(**feed.eval_inputs(split, batch_size), verbose=0, return_dict=True)
    if predicted:
        found.update(predicted_scores(model, split, task, batch_size))
    return {key: float(value) for key, value in found.items()}


def evaluate_splits(
    model: Any, data: Dataset, batch_size: int, predicted: bool = True,
    names: tuple[str, ...] = SEARCH_SPLITS,
) -> dict[str, float]:
    """``<split>_<metric>`` for each named split (train, train-dev and dev by default)."""
    results: dict[str, float] = {}
    for name in names:
        found = evaluate_split(model, data.splits[name], data.task, batch_size, predicted)
        results.update({f"{name}_{key}": value for key, value in found.items()})
    return results


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
