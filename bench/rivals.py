"""What autodl is measured against, built from the same spec: KerasTuner's RandomSearch and
Hyperband, and a bare Keras loop.

Both rivals sample the spec's own space (KerasTuner answers autodl's suggest calls through its
``hp``) and build each model with autodl's builder, compiled as autodl compiles it, so the only
difference left is the tool around the training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autodl.data import Dataset
from autodl.models import build_model
from autodl.runtime.backend import load_keras
from autodl.search.sampling import sample_config
from autodl.spec import Spec
from autodl.trial.compile import loss_and_metrics, make_optimizer
from bench.common import Record

keras = load_keras()
import keras_tuner  # noqa: E402  # imported after autodl has loaded TensorFlow quietly

Config = dict[str, dict[str, Any]]


def compile_like_autodl(model: Any, config: Config, task: str, jit_compile: bool | str) -> Any:
    """Compile ``model`` with the optimizer, loss and metrics an autodl trial uses."""
    loss, metrics = loss_and_metrics(task, config["training"]["loss"])
    model.compile(optimizer=make_optimizer(config["optimizer"]), loss=loss, metrics=metrics,
                  jit_compile=jit_compile)
    return model


class HpTrial:
    """Answers the Optuna-style calls of ``autodl.spec.space.suggest`` from KerasTuner's ``hp``, so a
    KerasTuner search samples exactly the spec's space: same names, ranges and scales."""

    def __init__(self, hp: keras_tuner.HyperParameters) -> None:
        self.hp = hp

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        return self.hp.Int(name, low, high, step=step, sampling="log" if log else "linear")

    def suggest_float(self, name: str, low: float, high: float, step: float | None = None,
                      log: bool = False) -> float:
        return self.hp.Float(name, low, high, step=step, sampling="log" if log else "linear")

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if all(isinstance(c, bool) for c in choices):
            return self.hp.Boolean(name)
        return self.hp.Choice(name, list(choices))


class SpecHyperModel(keras_tuner.HyperModel):
    """A KerasTuner hypermodel over an autodl spec's space, trained on autodl's splits.

    It records every fit it runs (when it ended, the final epoch's dev score, epochs trained),
    because KerasTuner scores a trial by its best epoch while autodl scores the final weights.
    ``distinct`` adds an unused integer hyperparameter: KerasTuner never repeats a configuration,
    so a fixed model needs it to run more than one trial.
    """

    def __init__(self, spec: Spec, data: Dataset, distinct: bool = False) -> None:
        super().__init__(name=spec.name)
        self.spec = spec
        self.data = data
        self.distinct = distinct
        self.metric = "val_" + spec.search.objective.metric.removeprefix("dev_")
        self.started = time.monotonic()
        self.records: list[Record] = []

    def config(self, hp: keras_tuner.HyperParameters) -> Config:
        """The trial's full configuration, fixed values and defaults included."""
        if self.distinct:
            hp.Int("replica", 0, 10**9)
        return sample_config(self.spec, HpTrial(hp)).config

    def build(self, hp: keras_tuner.HyperParameters) -> Any:
        config = self.config(hp)
        model = build_model(config["model"], self.data)
        return compile_like_autodl(model, config, self.data.task, self.spec.runtime.xla)

    def fit(self, hp: keras_tuner.HyperParameters, model: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["batch_size"] = self.config(hp)["training"]["batch_size"]
        history = model.fit(*args, **kwargs)
        scores = history.history.get(self.metric, [math.nan])
        self.records.append(Record(len(self.records), time.monotonic() - self.started,
                                   float(scores[-1]), "complete", len(history.epoch)))
        return history


class Deadline:
    """Stops a KerasTuner search from starting a trial after ``deadline`` (``time.monotonic``),
    as autodl's ``--timeout`` does: the trial running then finishes."""

    deadline = math.inf

    def pre_create_trial(self) -> None:
        oracle = self.oracle  # type: ignore[attr-defined]  # a mixin: the KerasTuner tuner it joins has oracle
        if time.monotonic() >= self.deadline and oracle.trials:
            oracle.max_trials = len(oracle.trials)


class TimedRandomSearch(Deadline, keras_tuner.RandomSearch):
    """KerasTuner's RandomSearch with a wall-clock budget."""


class TimedHyperband(Deadline, keras_tuner.Hyperband):
    """KerasTuner's Hyperband with a wall-clock budget."""


def kerastuner_search(kind: str, spec: Spec, data: Dataset, seed: int, budget_s: float,
                      directory: Path, max_trials: int | None = None,
                      distinct: bool = False) -> list[Record]:
    """Run KerasTuner's ``kind`` search over the spec's space for ``budget_s`` seconds (or
    ``max_trials`` trials) on ``data``'s train and dev splits; return each fit as a record.

    Epochs are the spec's (Hyperband's ``max_epochs``); time counts from the search's start.
    KerasTuner treats seed 0 as "pick one at random", hence ``seed + 1``.
    """
    hypermodel = SpecHyperModel(spec, data, distinct)
    epochs = spec.training.epochs
    common = {"objective": keras_tuner.Objective(hypermodel.metric, "max"), "seed": seed + 1,
              "directory": str(directory), "project_name": f"{spec.name}-{kind}",
              "overwrite": True}
    if kind == "random":
        tuner = TimedRandomSearch(hypermodel, max_trials=10**6, **common)
    else:
        tuner = TimedHyperband(hypermodel, max_epochs=epochs, factor=3, hyperband_iterations=1000,
                               **common)
    if max_trials is not None:
        tuner.oracle.max_trials = max_trials
    keras.utils.set_random_seed(seed)
    dev = data.splits["dev"]
    hypermodel.started = time.monotonic()
    tuner.deadline = hypermodel.started + budget_s
    tuner.search(data.train.x, data.train.y, validation_data=(dev.x, dev.y), epochs=epochs,
                 verbose=0)
    return hypermodel.records


def bare_loop(configs: Sequence[Config], data: Dataset, jit_compile: bool | str,
              after_each: Callable[[int], None] | None = None) -> list[Record]:
    """Train each configuration the way a person would by hand: clear the session, build with
    autodl's builder, compile, fit on train with dev as validation. ``after_each(i)`` runs after
    fit ``i``."""
    dev = data.splits["dev"]
    started = time.monotonic()
    records = []
    for number, config in enumerate(configs):
        keras.utils.clear_session()
        keras.utils.set_random_seed(number)
        model = compile_like_autodl(build_model(config["model"], data), config, data.task,
                                    jit_compile)
        history = model.fit(data.train.x, data.train.y, validation_data=(dev.x, dev.y),
                            epochs=config["training"]["epochs"],
                            batch_size=config["training"]["batch_size"], verbose=0)
        records.append(Record(number, time.monotonic() - started,
                              float(history.history["val_accuracy"][-1]), "complete",
                              len(history.epoch)))
        if after_each is not None:
            after_each(number)
    return records
