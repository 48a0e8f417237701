"""Top-k ensembles: the K best feasible complete trials of a study averaged into one Keras model.

``choose`` picks the members, best first: the study's best trial (Optuna's own rule), then the
other feasible complete trials in the study's direction. ``build`` gets each member's model (the
best trial's ``model.keras`` from the best-model folder; the others trained again as the search
trained them, on train, so dev and test stay held out; with ``export.retrain`` every member is
refit on train + train-dev), and ``combine`` wires them into one functional model: the members'
raw input (strings for text), each member, and the ``Average`` of their outputs. autodl's heads
end in a sigmoid or softmax, so the average is of probabilities, never of logits (a member whose
outputs are not probabilities is refused); for regression it is of the predicted values.

The ensemble and the best single model are measured on the same dev and test examples, with the
number of examples and the paired standard error of their difference: on a few hundred examples
a difference of a point or two is often noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from autodl.data import DataFor, Dataset
from autodl.errors import AutodlError
from autodl.export import formats
from autodl.export.retrain import Best, refit, replay
from autodl.results.record import BestRecord, best_dir, record_of, saved_model
from autodl.results.uncertainty import diagnosis_metric, per_example
from autodl.runtime.backend import load_keras
from autodl.runtime.log import logger
from autodl.runtime.stores import mask_url, study_storage
from autodl.search.study import best_trial, complete_value, find_study
from autodl.spec import Spec
from autodl.trial.measure import from_outputs, measure, penalty, predict

SCORED_SPLITS = ("dev", "test")
PROBABILITY_SLACK = 1e-4
"""How far outside [0, 1] (and, for softmax, from a row sum of 1) a probability may stray."""
ERROR_NAMES = {"mae": "absolute error", "rmse": "squared error", "loss": "squared error"}
"""The per-example error the paired comparison averages, by diagnosis metric (regression)."""


@dataclass
class Member:
    """One model of an ensemble: its trial, the objective value the search recorded for it, the
    model, how it was obtained (``saved``, ``rebuilt`` or ``retrained``) and its training facts."""

    trial: int
    value: float
    model: Any
    source: str
    epochs: int | None
    seed: int | None
    trained_on: list[str]
    train_time_s: float


@dataclass
class Ensemble:
    """The combined model, its members (best first), the manifest's training facts and exported
    metrics, and ``summary``: the ``ensemble`` entry of ``export.json`` and ``best.json``."""

    model: Any
    members: list[Member]
    facts: dict[str, Any]
    summary: dict[str, Any]


def feasible(trial: FrozenTrial) -> bool:
    """A complete trial within every ``search.constraints`` limit (each constraint value <= 0)."""
    return trial.state == TrialState.COMPLETE and all(v <= 0 for v in trial.constraints.values())


def ranked(study: optuna.Study) -> list[FrozenTrial]:
    """The study's feasible complete trials, best first: the study's best trial, then the others
    by objective value in the study's direction (ties by trial number)."""
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    trials = sorted(
        (t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if feasible(t)),
        key=lambda t: (sign * complete_value(t), t.number),
    )
    best = best_trial(study)
    if best is None:
        return []
    return [best, *(t for t in trials if t.number != best.number)]


def choose(study: optuna.Study, size: int) -> list[FrozenTrial]:
    """The ``size`` best feasible complete trials, best first; fewer is an ``AutodlError``."""
    if size < 1:
        raise AutodlError(f"An ensemble needs at least 1 member. Received: export.ensemble={size}")
    found = ranked(study)
    if len(found) < size:
        listed = ", ".join(f"#{t.number}" for t in found) or "none"
        raise AutodlError(
            f"export.ensemble asks for the {size} best trials, but study {study.study_name!r} has "
            f"{len(found)} feasible complete trial{'s' * (len(found) != 1)} ({listed}); lower "
            f"export.ensemble (--ensemble) to at most {len(found)}, or search longer. "
            f"Received: export.ensemble={size}"
        )
    return found[:size]


def member_name(trial: int) -> str:
    """The name of a member model inside the ensemble."""
    return f"trial_{trial}"


def signature(model: Any) -> str:
    """A model's input and output as text, ``(8, 8, 1) float32 -> (10,)``."""
    source, target = model.inputs[0], model.outputs[0]
    return f"{tuple(source.shape[1:])} {source.dtype} -> {tuple(target.shape[1:])}"


def check_inputs(found: Sequence[tuple[int, str]]) -> None:
    """Every member must take the same input (shape and dtype) and give the same output: an
    ensemble feeds one input to all of them and averages their outputs."""
    first_trial, first = found[0]
    for trial, described in found[1:]:
        if described != first:
            raise AutodlError(
                f"An ensemble feeds one input to every member and averages their outputs, but "
                f"trial #{first_trial} takes {first} and trial #{trial} takes {described} (a "
                "searched data.window, for one, changes the input shape). Export the best model "
                "alone (export.ensemble: 1), or search one window."
            )


def combine(models: Sequence[Any], trials: Sequence[int]) -> Any:
    """One functional model: the members' raw input, each member (named ``trial_<n>``), and the
    float32 ``Average`` of their outputs; compiled as the first (best) member is, so it is
    measured and saved like a single model."""
    keras = load_keras()
    for trial, model in zip(trials, models, strict=True):
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise AutodlError(
                f"An ensemble averages models of one input and one output, but trial #{trial}'s "
                f"model has {len(model.inputs)} inputs and {len(model.outputs)} outputs. Export "
                "the best model alone (export.ensemble: 1)."
            )
    check_inputs([(t, signature(m)) for t, m in zip(trials, models, strict=True)])
    source = models[0].inputs[0]
    inputs = keras.Input(shape=tuple(source.shape[1:]), dtype=source.dtype, name=source.name)
    # a new functional model over each member's layers: named by its trial, sharing its weights,
    # without the member's optimizer (which would otherwise be saved inside the ensemble)
    members = [keras.Model(m.input, m.output, name=member_name(t)) for t, m in zip(trials, models, strict=True)]
    output = keras.layers.Average(dtype="float32", name="output")([member(inputs) for member in members])
    ensemble = keras.Model(inputs, output, name="ensemble")
    config = models[0].get_compile_config()
    if config:
        ensemble.compile_from_config(config)
    return ensemble


def members_of(model: Any) -> list[Any]:
    """The member models of an ensemble ``combine`` built, in order."""
    keras = load_keras()
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def prepare(model: Any, names: list[str]) -> formats.ExportModel:
    """The ensemble ready to save in the formats ``names``. A text ensemble is split for TFLite
    and ONNX (token ids in) when every member vectorizes text the same way (same settings and
    vocabulary): the numeric part averages each member's part after its ``TextVectorization``."""
    keras = load_keras()
    if all(formats.get(n).raw_text for n in names) or model.inputs[0].dtype != "string":
        return formats.ExportModel(model, model)
    parts = [formats.prepare(member) for member in members_of(model)]
    first = parts[0].vectorizer
    for part in parts[1:]:
        if part.vectorizer != first:
            raise formats.ExportError(
                f"TFLite and ONNX take token ids from one text vectorization, but the ensemble's "
                f"members {_vectorizations(model, parts)} differ. Export keras or saved_model only "
                "(--formats keras,saved_model), or search one vocab_size and sequence_length."
            )
    source = parts[0].numeric.inputs[0]
    ids = keras.Input(shape=tuple(source.shape[1:]), dtype=source.dtype, name="token_ids")
    output = keras.layers.Average(dtype="float32", name="output")([part.numeric(ids) for part in parts])
    return formats.ExportModel(model, keras.Model(ids, output, name="ensemble_numeric"), first)


def _vectorizations(model: Any, parts: list[formats.ExportModel]) -> str:
    """Each member's vectorization in brief, for the message that they differ."""
    described = []
    for member, part in zip(members_of(model), parts, strict=True):
        record = part.vectorizer or {}
        config = record.get("config", {})
        described.append(f"{member.name.replace('trial_', '#')} ({len(record.get('vocabulary', []))} tokens, "
                         f"sequence length {config.get('output_sequence_length')})")
    return ", ".join(described)


def check_probabilities(trial: int, task: str, outputs: np.ndarray) -> None:
    """A classifier's outputs must be probabilities (sigmoid or softmax), which average into
    probabilities; logits would not."""
    if task not in ("binary", "multiclass") or outputs.size == 0:
        return
    low, high = float(outputs.min()), float(outputs.max())
    sums = outputs.sum(axis=1) if task == "multiclass" else np.ones(1)
    if low < -PROBABILITY_SLACK or high > 1 + PROBABILITY_SLACK or np.max(np.abs(sums - 1)) > 1e-3:
        raise AutodlError(
            f"Trial #{trial}'s model outputs values in [{low:.3g}, {high:.3g}] on dev, not "
            f"probabilities{' summing to 1' if task == 'multiclass' else ''}; an ensemble "
            "averages probabilities (a sigmoid or softmax output layer). Export the best model "
            "alone (export.ensemble: 1)."
        )


def scores(model: Any, data: Dataset, batch_size: int, extra_penalty: float = 0.0,
           splits: tuple[str, ...] = SCORED_SPLITS) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """``dev_*`` and ``test_*`` (``<split>_*`` of ``splits``) metrics of ``model`` and the outputs
    they came from.

    ``extra_penalty`` is taken off the loss: an ensemble's ``losses`` are all its members'
    penalties, and its loss keeps their mean, the penalty of one member.
    """
    found: dict[str, float] = {}
    outputs: dict[str, np.ndarray] = {}
    for name in splits:
        split = data.splits[name]
        if not len(split):
            continue
        outputs[name] = predict(model, split, batch_size)
        values = from_outputs(model, data.task, split.y, outputs[name])
        values["loss"] -= extra_penalty
        found.update({f"{name}_{key}": value for key, value in values.items()})
    return found, outputs


def paired(task: str, metric: str, y: np.ndarray, single: np.ndarray, combined: np.ndarray) -> dict[str, Any]:
    """The best single model's and the ensemble's mean per-example error on the same examples
    (error rate for classification), their difference (ensemble minus single: below 0 is
    better) and its paired standard error, and the number of examples."""
    a = per_example(task, metric, y, single)
    b = per_example(task, metric, y, combined)
    n = len(a)
    difference = b - a
    se = float(np.std(difference, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return {"error": ERROR_NAMES.get(metric, "error rate"), "best_single": float(a.mean()),
            "ensemble": float(b.mean()), "difference": float(difference.mean()), "se": se, "n": n}


def _records(spec: Spec, data: Dataset, best: Best, trials: list[FrozenTrial], data_for: DataFor
             ) -> list[tuple[BestRecord, Dataset]]:
    """Each member's record and data; the data's input must agree before anything trains."""
    found: list[tuple[BestRecord, Dataset]] = []
    for trial in trials:
        if trial.number == best.record["trial"]:
            found.append((best.record, data))
            continue
        own = data_for(trial.user_attrs["config"])
        found.append((record_of(spec, own, trial, dict(trial.user_attrs.get("metrics", {}))), own))
    check_inputs([(r["trial"], f"{d.input_shape} {d.kind} data") for r, d in found])
    return found


def _member(spec: Spec, record: BestRecord, data: Dataset, folder: Path, retrain: bool,
            include_dev: bool) -> Member:
    """A member's model: refit (``retrain``), the saved model of the best trial, or its trial
    trained again as the search trained it."""
    trial, value = record["trial"], float(record["objective"]["value"])
    seed, metrics = record.get("seed"), record.get("metrics", {})
    if retrain:
        fitted = refit(spec, data, record, include_dev)
        return Member(trial, value, fitted.model, "retrained", fitted.epochs, seed, fitted.trained_on,
                      fitted.metrics.get("train_time_s", 0.0))
    found = saved_model(folder, trial)
    if found is not None:
        model = load_keras().saving.load_model(found[1])
        return Member(trial, value, model, "saved", record.get("epochs"), seed, ["train"],
                      metrics.get("train_time_s", 0.0))
    return Member(trial, value, replay(spec, data, record), "rebuilt", record.get("epochs"), seed,
                  ["train"], metrics.get("train_time_s", 0.0))


def build(spec: Spec, data: Dataset, best: Best, size: int, data_for: DataFor, retrain: bool = False,
          include_dev: bool = False) -> Ensemble:
    """The ensemble of the ``size`` best trials of the spec's study, with its scores beside the
    best single model's; ``data`` is the best trial's data and ``data_for(config)`` another
    member's."""
    url = study_storage(spec)
    study = find_study(spec.name, url)
    if study is None:
        raise AutodlError(
            f"An ensemble is made of the study's trials, but there is no study {spec.name!r} in "
            f"{mask_url(url)}. Export the best model alone (export.ensemble: 1), or pass --storage."
        )
    trials = choose(study, size)
    logger.info("ensemble of %d trials: %s", size, ", ".join(f"#{t.number}" for t in trials))
    folder = best.folder or best_dir(spec)
    members = [_member(spec, record, own, folder, retrain, include_dev)
               for record, own in _records(spec, data, best, trials, data_for)]
    batch = int(best.record["config"]["training"]["batch_size"])
    objective = spec.search.objective.metric
    measured: list[tuple[dict[str, float], dict[str, np.ndarray]]] = []
    for member in members:  # the best single model on dev and test, the others on dev
        found, outputs = scores(member.model, data, batch, splits=SCORED_SPLITS if not measured else ("dev",))
        check_probabilities(member.trial, data.task, outputs["dev"])
        measured.append((found, outputs))
    single, single_outputs = measured[0]
    model = combine([m.model for m in members], [m.trial for m in members])
    shared = penalty(model) * (1 - 1 / len(members))
    combined, combined_outputs = scores(model, data, batch, shared)
    metric = diagnosis_metric(data.task, objective)
    summary = {
        "size": len(members),
        "combined": "mean of the members' predicted "
                    + ("values" if data.task == "regression" else "probabilities"),
        "objective": objective,
        "members": [
            {"trial": m.trial, "search_value": m.value, "measured_value": found.get(objective),
             "source": m.source, "epochs": m.epochs, "seed": m.seed}
            for m, (found, _) in zip(members, measured, strict=True)
        ],
        "examples": {name: len(data.splits[name]) for name in SCORED_SPLITS},
        "metrics": {"best_single": single, "ensemble": combined},
        "paired": {name: paired(data.task, metric, data.splits[name].y, single_outputs[name],
                                combined_outputs[name]) for name in combined_outputs},
    }
    train_time = sum(m.train_time_s for m in members)
    exported = {**combined, **measure(model, data, batch, train_time)}
    facts = {"retrained": retrain, "trained_on": members[0].trained_on, "epochs": members[0].epochs,
             "seed": members[0].seed, "metrics": exported}
    logger.info("%s on dev: ensemble %.4g, best single model %.4g (%d examples)", objective,
                combined.get(objective, math.nan), single.get(objective, math.nan), len(data.splits["dev"]))
    return Ensemble(model, members, facts, summary)
