"""One trial's training on tiny in-memory data (a few epochs at most): complete, pruned and failed
trials, what they measure, seeds, and the learning-rate schedule."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from autodl.data.dataset import Dataset, Split
from autodl.spec.sections import TrainingSpec
from autodl.trial.run import run_trial
from tests.helpers import dataset_from, family_cfg, make_dataset, optimizer_cfg

pytestmark = pytest.mark.usefixtures("fresh_keras")


def trial_config(epochs: int, **optimizer: Any) -> dict[str, dict[str, Any]]:
    """A small MLP trial: model, optimizer and training sections."""
    return {
        "model": family_cfg("mlp", layers=1, units=4),
        "optimizer": optimizer_cfg(**optimizer),
        "training": {**dict(TrainingSpec()), "epochs": epochs, "batch_size": 8},
    }


def separable(task: str = "binary", n: int = 32) -> Dataset:
    """Tabular data whose label is the sign of the first feature."""
    x = np.random.default_rng(0).normal(size=(n, 3)).astype("float32")
    if task == "regression":
        return dataset_from("tabular", task, x, (100 * x[:, 0]).astype("float32"))
    return dataset_from("tabular", task, x, (x[:, 0] > 0).astype("int64"))


def never(epoch: int, value: float) -> bool:
    """A prune check that never prunes."""
    return False


def test_complete_trial() -> None:
    calls: list[tuple[int, dict[str, float]]] = []
    other: list[int] = []
    outcome = run_trial(
        trial_config(epochs=2), separable(), "dev_accuracy", seed=0, should_prune=never,
        listeners=[lambda e, m: calls.append((e, m)), lambda e, m: other.append(e)],
    )
    assert outcome.state == "complete"
    assert (outcome.reason, outcome.pruned_epoch, outcome.epochs) == (None, None, 2)
    assert outcome.value == outcome.metrics["dev_accuracy"]
    assert set(outcome.history) == {
        "loss", "accuracy", "auc", "dev_loss", "dev_accuracy", "dev_auc", "learning_rate"
    }
    assert outcome.history["learning_rate"] == pytest.approx([0.01, 0.01])
    assert all(len(values) == 2 for values in outcome.history.values())
    assert [epoch for epoch, _ in calls] == [1, 2] and other == [1, 2]
    for epoch, metrics in calls:
        assert metrics == {key: values[epoch - 1] for key, values in outcome.history.items()}
    measured = {"latency_ms", "model_size_mb", "params", "train_time_s"}
    assert set(outcome.metrics) == measured | {
        f"{split}_{metric}" for split in ("train", "train_dev", "dev")
        for metric in ("loss", "accuracy", "auc", "f1", "balanced_accuracy", "macro_f1")
    }
    assert outcome.metrics["params"] == outcome.params_count
    assert outcome.params_count * 4 <= outcome.metrics["model_size_mb"] * 1e6 <= outcome.params_count * 8
    assert 0 < outcome.metrics["latency_ms"] < 5000 and 0 < outcome.metrics["train_time_s"] < outcome.duration_s
    assert 0.0 <= outcome.metrics["dev_f1"] <= 1.0
    assert outcome.metrics["dev_loss"] == pytest.approx(outcome.history["dev_loss"][-1], rel=1e-5)
    assert outcome.model is not None
    assert outcome.params_count == outcome.model.count_params()
    assert outcome.summary.startswith('Model: "mlp"')
    import re

    counts = [int(n) for n in re.findall(r"(?:^| )(?:Trainable|Non-trainable) params: (\d+)", outcome.summary, re.M)]
    assert sum(counts) == outcome.params_count
    assert outcome.duration_s > 0


@pytest.mark.parametrize(
    ("family", "kind", "task", "changes"),
    [
        ("cnn", "image", "multiclass", {"blocks": 1, "dense_layers": 0}),
        ("rnn", "text", "binary", {"cell": "gru"}),
        ("mlp", "image", "regression", {"layers": 1}),
    ],
)
def test_run_trial_trains_every_family(
    family: str, kind: str, task: str, changes: dict[str, Any]
) -> None:
    config = {**trial_config(epochs=1), "model": family_cfg(family, **changes)}
    outcome = run_trial(config, make_dataset(kind, task), "dev_loss", 0, never, [])
    assert outcome.state == "complete" and outcome.epochs == 1
    assert outcome.value == outcome.metrics["dev_loss"] and math.isfinite(outcome.value)
    assert outcome.model.name == family


def test_same_seed_same_trial() -> None:
    first = run_trial(trial_config(epochs=1), separable(), "dev_accuracy", 3, never, [])
    again = run_trial(trial_config(epochs=1), separable(), "dev_accuracy", 3, never, [])
    timings = ("latency_ms", "train_time_s")
    assert first.history == again.history
    assert {k: v for k, v in first.metrics.items() if k not in timings} == {
        k: v for k, v in again.metrics.items() if k not in timings
    }


def test_empty_train_dev_split_is_not_measured() -> None:
    data = separable()
    empty = Split(data.train.x[:0], data.train.y[:0])
    data = Dataset(data.name, data.kind, data.task, {**data.splits, "train_dev": empty},
                   data.class_names)
    outcome = run_trial(trial_config(epochs=1), data, "dev_loss", 0, never, [])
    assert outcome.state == "complete" and outcome.value == outcome.metrics["dev_loss"]
    assert sorted(outcome.metrics) == [
        "dev_accuracy", "dev_auc", "dev_balanced_accuracy", "dev_f1", "dev_loss", "dev_macro_f1", "latency_ms",
        "model_size_mb", "params", "train_accuracy", "train_auc", "train_balanced_accuracy", "train_f1",
        "train_loss", "train_macro_f1", "train_time_s",
    ]


def test_pruned_trial() -> None:
    asked: list[tuple[int, float]] = []

    def prune_at_two(epoch: int, value: float) -> bool:
        asked.append((epoch, value))
        return epoch == 2

    epochs: list[int] = []
    outcome = run_trial(
        trial_config(epochs=5), separable(), "dev_loss", seed=0, should_prune=prune_at_two,
        listeners=[lambda e, m: epochs.append(e)],
    )
    assert outcome.state == "pruned"
    assert (outcome.pruned_epoch, outcome.epochs, epochs) == (2, 2, [1, 2])
    assert outcome.model is None and outcome.metrics == {} and outcome.reason is None
    assert outcome.value == outcome.history["dev_loss"][-1]
    assert asked == [(1, outcome.history["dev_loss"][0]), (2, outcome.history["dev_loss"][1])]


def test_nan_loss_fails_the_trial() -> None:
    """A NaN target makes the mean squared error NaN on every CPU (a NaN input feature is not
    enough: whether a clipped sigmoid passes NaN on depends on the CPU's kernels)."""
    data = separable("regression")
    y = data.train.y.copy()
    y[5] = np.nan
    data = dataset_from("tabular", "regression", data.train.x, y)
    asked: list[int] = []
    epochs: list[int] = []

    def record(epoch: int, value: float) -> bool:
        asked.append(epoch)
        return False

    outcome = run_trial(
        trial_config(epochs=3), data, "dev_accuracy", seed=0, should_prune=record,
        listeners=[lambda e, m: epochs.append(e)],
    )
    assert outcome.state == "failed"
    assert outcome.reason == "loss became nan at epoch 1"
    assert (outcome.epochs, epochs, asked) == (1, [1], [])
    assert outcome.model is None and outcome.value is None and outcome.metrics == {}
    assert math.isnan(outcome.history["loss"][0])


def test_huge_learning_rate_fails_the_trial() -> None:
    outcome = run_trial(
        trial_config(epochs=3, name="sgd", learning_rate=1e6), separable("regression"),
        "dev_loss", seed=0, should_prune=never, listeners=[],
    )
    assert outcome.state == "failed"
    assert outcome.reason is not None and outcome.reason.startswith("loss became nan")
    assert outcome.model is None and outcome.epochs < 3


def test_f1_objective_is_measured_every_epoch_and_can_prune() -> None:
    reported: list[tuple[int, float]] = []

    def record(epoch: int, value: float) -> bool:
        reported.append((epoch, value))
        return epoch == 2

    outcome = run_trial(trial_config(epochs=3), separable(), "dev_f1", 0, record, [])
    assert [epoch for epoch, _ in reported] == [1, 2]
    assert outcome.state == "pruned" and outcome.pruned_epoch == 2
    assert outcome.history["dev_f1"] == [value for _, value in reported]
    assert all(0.0 <= value <= 1.0 for _, value in reported)


def test_learning_rate_follows_the_schedule() -> None:
    config = trial_config(epochs=3, learning_rate=0.1, schedule="exponential", decay_rate=0.5)
    outcome = run_trial(config, separable(), "dev_loss", 0, never, [])
    assert outcome.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])


def phased_builder(head_share: float, learning_rate: float, opened: list[bool]) -> Any:
    """The small MLP of ``trial_config`` whose first layer is frozen until ``unfreeze``, trained
    in two phases as a transfer model is."""
    from autodl.models import build_builtin
    from autodl.models.base import FineTune

    def build(cfg: dict[str, Any], data: Dataset, suggest: Any) -> Any:
        built = build_builtin(cfg, data, suggest)
        frozen = next(layer for layer in built.model.layers if layer.weights)
        frozen.trainable = False

        def unfreeze() -> None:
            frozen.trainable = True
            opened.append(True)

        built.fine_tune = FineTune(head_share=head_share, learning_rate=learning_rate, unfreeze=unfreeze)
        return built

    return build


def test_a_phased_model_trains_its_head_then_fine_tunes_at_its_own_rate() -> None:
    opened: list[bool] = []
    outcome = run_trial(trial_config(epochs=4, learning_rate=0.01), separable(), "dev_accuracy", 0, never, [],
                        build=phased_builder(0.5, 1e-4, opened))
    assert outcome.state == "complete" and outcome.epochs == 4 and opened == [True]
    assert outcome.history["learning_rate"] == pytest.approx([0.01, 0.01, 1e-4, 1e-4])
    assert outcome.facts == {"epochs_head": 2, "epochs_fine_tune": 2}
    assert all(len(values) == 4 for values in outcome.history.values())


def test_a_phased_model_pruned_in_its_head_phase_never_unfreezes() -> None:
    opened: list[bool] = []
    outcome = run_trial(trial_config(epochs=4), separable(), "dev_accuracy", 0, lambda epoch, value: epoch == 1, [],
                        build=phased_builder(0.5, 1e-4, opened))
    assert outcome.state == "pruned" and outcome.pruned_epoch == 1 and opened == []
