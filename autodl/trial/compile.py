"""Compiling a trial's model: the optimizer named in the spec, and the loss and per-epoch Keras
metrics that fit the task."""

from __future__ import annotations

from typing import Any

from autodl.runtime.backend import load_keras
from autodl.spec.names import OPTIMIZERS

CLIPPING = ("clipnorm", "clipvalue")


def make_optimizer(cfg: dict[str, Any]) -> Any:
    """A Keras optimizer from a sampled ``optimizer`` section: its class and settings come from
    the optimizer registry, so an optimizer ignores the settings it does not take."""
    keras = load_keras()
    kind = OPTIMIZERS.get(cfg["name"])
    settings: dict[str, Any] = {"learning_rate": cfg["learning_rate"]}
    settings.update({clip: cfg[clip] for clip in CLIPPING if cfg.get(clip) is not None})
    settings.update({name: cfg[name] for name in kind.settings})
    return getattr(keras.optimizers, kind.keras_class)(**settings)


def loss_and_metrics(task: str, regression_loss: str = "mse") -> tuple[str, list[Any]]:
    """The loss and per-epoch Keras metrics that fit the task."""
    keras = load_keras()
    if task == "binary":
        return "binary_crossentropy", ["accuracy", keras.metrics.AUC(name="auc")]
    if task == "multiclass":
        return "sparse_categorical_crossentropy", ["accuracy"]
    return regression_loss, [
        keras.metrics.MeanAbsoluteError(name="mae"),
        keras.metrics.RootMeanSquaredError(name="rmse"),
    ]


def compile_model(model: Any, task: str, config: dict[str, dict[str, Any]], jit_compile: bool | str) -> None:
    """Compile ``model`` with the configuration's optimizer and the task's loss and metrics;
    ``jit_compile`` is Keras's XLA switch (``runtime.xla``)."""
    loss, keras_metrics = loss_and_metrics(task, config["training"]["loss"])
    model.compile(optimizer=make_optimizer(config["optimizer"]), loss=loss, metrics=keras_metrics,
                  jit_compile=jit_compile)
