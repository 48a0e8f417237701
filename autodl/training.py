"""Train one trial: build, compile, fit with pruning and a NaN guard, and measure the result.

Knows nothing of Optuna or MLflow: the search passes a ``should_prune`` callable and epoch
listeners, and gets a ``TrialOutcome`` back.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from autodl import metrics, schedules
from autodl.backend import load_keras
from autodl.data import feed
from autodl.data.dataset import Dataset
from autodl.models import build_builtin
from autodl.models.base import ModelBuilder
from autodl.outcome import EpochListener, PruneCheck, Suggest, TrialOutcome

keras = load_keras()

def make_optimizer(cfg: dict[str, Any]) -> Any:
    """A Keras optimizer from a sampled ``optimizer`` section."""
    common: dict[str, Any] = {"learning_rate": cfg["learning_rate"]}
    for clip in ("clipnorm", "clipvalue"):
        if cfg.get(clip) is not None:
            common[clip] = cfg[clip]
    name = cfg["name"]
    if name == "sgd":
        return keras.optimizers.SGD(momentum=cfg["momentum"], nesterov=cfg["nesterov"], **common)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(
            rho=cfg["rho"], momentum=cfg["momentum"], epsilon=cfg["epsilon"], **common
        )
    betas = {"beta_1": cfg["beta_1"], "beta_2": cfg["beta_2"], "epsilon": cfg["epsilon"]}
    if name == "adamw":
        return keras.optimizers.AdamW(weight_decay=cfg["weight_decay"], **betas, **common)
    return keras.optimizers.Adam(**betas, **common)


def loss_and_metrics(task: str, regression_loss: str = "mse") -> tuple[str, list[Any]]:
    """The loss and per-epoch Keras metrics that fit the task."""
    if task == "binary":
        return "binary_crossentropy", ["accuracy", keras.metrics.AUC(name="auc")]
    if task == "multiclass":
        return "sparse_categorical_crossentropy", ["accuracy"]
    return regression_loss, [
        keras.metrics.MeanAbsoluteError(name="mae"),
        keras.metrics.RootMeanSquaredError(name="rmse"),
    ]


def predicted_scores(model: Any, split: Any, task: str, batch_size: int) -> dict[str, float]:
    """Metrics Keras does not log (F1, multiclass AUC), from the model's predictions."""
    if not metrics.computed_here(task) or len(split) == 0:
        return {}
    return metrics.scores(task, split.y, model.predict(**feed.predict_inputs(split, batch_size), verbose=0))


def rename(logs: dict[str, Any]) -> dict[str, float]:
    """Keras log keys to autodl metric names (``val_accuracy`` -> ``dev_accuracy``)."""
    return {
        f"dev_{k.removeprefix('val_')}" if k.startswith("val_") else k: float(v)
        for k, v in logs.items()
    }


class _EpochMonitor(keras.callbacks.Callback):
    """Forwards each epoch's metrics, stops on a NaN loss or a missing objective, asks whether to
    prune.

    ``extra`` adds metrics Keras does not log (dev F1) when the objective needs them per epoch.
    """

    def __init__(
        self,
        objective: str,
        should_prune: PruneCheck,
        listeners: list[EpochListener],
        extra: Callable[[], dict[str, float]] | None,
    ):
        super().__init__()
        self.objective = objective
        self.should_prune = should_prune
        self.listeners = listeners
        self.extra = extra
        self.pruned_epoch: int | None = None
        self.stop_reason: str | None = None
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        metrics_now = rename(logs or {})
        number = epoch + 1
        loss = metrics_now.get("loss", 0.0)
        if not math.isfinite(loss):
            self.stop_reason = f"loss became {loss} at epoch {number}"
        elif self.extra is not None:
            metrics_now.update(self.extra())
        if self.stop_reason is None and self.objective not in metrics_now:
            self.stop_reason = (
                f"the model reports no {self.objective} (it logs {', '.join(sorted(metrics_now))}); "
                f"compile it with that metric or set search.objective.metric to one of those"
            )
        if self.stop_reason is not None:
            self.model.stop_training = True
        for key, value in metrics_now.items():
            self.history.setdefault(key, []).append(value)
        for listener in self.listeners:
            listener(number, metrics_now)
        if self.stop_reason:
            return
        value = metrics_now.get(self.objective)
        if value is not None and math.isfinite(value) and self.should_prune(number, value):
            self.pruned_epoch = number
            self.model.stop_training = True


def evaluate_splits(
    model: Any, data: Dataset, batch_size: int, predicted: bool = True
) -> dict[str, float]:
    """Loss and metrics on every non-empty split except test (kept for the final model).

    ``predicted`` adds F1 (and multiclass AUC) from predictions, for models with autodl's heads.
    """
    results: dict[str, float] = {}
    for name in ("train", "train_dev", "dev"):
        split = data.splits[name]
        if len(split) == 0:
            continue
        scores = model.evaluate(**feed.eval_inputs(split, batch_size), verbose=0, return_dict=True)
        if predicted:
            scores.update(predicted_scores(model, split, data.task, batch_size))
        results.update({f"{name}_{key}": float(v) for key, v in scores.items()})
    return results


LATENCY_RUNS = 5


def measure(model: Any, data: Dataset, batch_size: int, train_time_s: float) -> dict[str, float]:
    """What satisficing constraints compare: the median time to predict one batch on the device in
    use (after a warm-up call), the size of the weights, the parameters, the time spent fitting."""
    split = data.splits["dev"] if len(data.splits["dev"]) else data.train
    batch = split.examples(slice(0, batch_size))
    model.predict_on_batch(batch)
    times = []
    for _ in range(LATENCY_RUNS):
        started = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - started)
    size = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)
    return {
        "latency_ms": float(np.median(times) * 1000),
        "model_size_mb": size / 1e6,
        "params": float(model.count_params()),
        "train_time_s": train_time_s,
    }


def model_summary(model: Any) -> str:
    """Keras's layer table of ``model`` as text."""
    lines: list[str] = []
    model.summary(print_fn=lambda text, *args, **kwargs: lines.append(text))
    return "\n".join(lines)


def _dev_scores(model: Any, data: Dataset, batch_size: int) -> Callable[[], dict[str, float]]:
    """Per-epoch dev F1 (and multiclass AUC) for objectives Keras does not log."""
    dev = data.splits["dev"]
    return lambda: {
        f"dev_{k}": v for k, v in predicted_scores(model, dev, data.task, batch_size).items()
    }


def run_trial(
    config: dict[str, dict[str, Any]],
    data: Dataset,
    objective: str,
    seed: int,
    should_prune: PruneCheck,
    listeners: list[EpochListener],
    build: ModelBuilder = build_builtin,
    suggest: Suggest | None = None,
    jit_compile: bool | str = "auto",
) -> TrialOutcome:
    """Build, compile and fit one configuration; measure it on each split when it completes.

    A model that its builder compiled already (a custom ``build(hp)``) keeps its own optimizer,
    loss and metrics. ``jit_compile`` is Keras's XLA switch (``runtime.xla``).

    The previous trial's Keras state is cleared and garbage collected first; what survives that
    is long-lived (data, the study, the tracker) and is frozen out of later collections, which
    would otherwise scan it all again before every trial. The caller must hold no reference to
    an earlier trial's model by then.
    """
    started = time.perf_counter()
    keras.utils.clear_session(free_memory=True)
    gc.freeze()
    keras.utils.set_random_seed(seed)
    train_cfg = config["training"]
    built = build(config["model"], data, suggest)
    model = built.model
    if not built.compiled:
        opt_cfg = config["optimizer"]
        loss, keras_metrics = loss_and_metrics(data.task, train_cfg["loss"])
        model.compile(optimizer=make_optimizer(opt_cfg), loss=loss, metrics=keras_metrics,
                      jit_compile=jit_compile)
    dev = data.splits["dev"]
    ours = not built.compiled
    extra = (
        _dev_scores(model, data, train_cfg["batch_size"])
        if ours and objective.removeprefix("dev_") in metrics.computed_here(data.task)
        else None
    )
    monitor = _EpochMonitor(objective, should_prune, listeners, extra)
    callbacks: list[Any] = [monitor]
    if ours:
        callbacks.insert(0, keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: schedules.learning_rate(opt_cfg, epoch, train_cfg["epochs"])
        ))
    if train_cfg.get("early_stopping"):
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=train_cfg["early_stopping"], restore_best_weights=True
            )
        )
    fit_started = time.perf_counter()
    model.fit(
        **feed.fit_inputs(data.train, train_cfg["batch_size"], seed),
        validation_data=feed.validation_data(dev, train_cfg["batch_size"]),
        epochs=train_cfg["epochs"],
        callbacks=callbacks,
        verbose=0,
    )
    train_time_s = time.perf_counter() - fit_started
    outcome = TrialOutcome(
        state="complete",
        history=monitor.history,
        epochs=len(monitor.history.get("loss", [])),
        params_count=int(model.count_params()),
        params=built.params,
        summary=model_summary(model),
    )
    if monitor.stop_reason is not None:
        outcome.state, outcome.reason = "failed", monitor.stop_reason
    elif monitor.pruned_epoch is not None:
        outcome.state, outcome.pruned_epoch = "pruned", monitor.pruned_epoch
        outcome.value = monitor.history[objective][-1]
    else:
        outcome.metrics = evaluate_splits(model, data, train_cfg["batch_size"], predicted=ours)
        outcome.metrics.update(measure(model, data, train_cfg["batch_size"], train_time_s))
        outcome.value = outcome.metrics[objective]
        if not np.isfinite(outcome.value):
            outcome.state, outcome.reason = "failed", f"{objective} is {outcome.value}"
        else:
            outcome.model = model
    outcome.duration_s = time.perf_counter() - started
    return outcome
