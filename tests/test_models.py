"""Model families and one trial's training on tiny in-memory data (one or two epochs at most)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from autodl import models
from autodl.data.dataset import SPLITS, Dataset, Split
from autodl.errors import SpecError
from autodl.models.cnn import block_filters
from autodl.runtime.backend import load_keras
from autodl.spec.sections import MODEL_SPECS, OptimizerSpec, TrainingSpec
from autodl.trial.compile import loss_and_metrics, make_optimizer
from autodl.trial.monitor import rename
from autodl.trial.run import run_trial

keras = load_keras()

SMALL: dict[str, dict[str, Any]] = {
    "cnn": {"filters": 4, "dense_units": 8},
    "rnn": {"vocab_size": 50, "sequence_length": 6, "embedding_dim": 4, "units": 4},
    "mlp": {"units": 8},
}
WORDS = ["good", "bad", "movie", "film", "plot", "great", "awful", "acting", "fine", "story"]
CLASS_NAMES = {"binary": ("0", "1"), "multiclass": ("a", "b", "c"), "regression": ()}
RECURRENT = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple": keras.layers.SimpleRNN}
TEXTS = np.array(["good movie", "bad movie", "good film", "bad film"] * 3, dtype=object)


@pytest.fixture(autouse=True)
def _fresh_keras() -> None:
    """Each test starts from an empty Keras session with fixed seeds."""
    keras.utils.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)


def family_cfg(family: str, **changes: Any) -> dict[str, Any]:
    """Every field of the family's spec: its defaults, shrunk by ``SMALL``, then ``changes``."""
    cfg = {name: value for name, value in MODEL_SPECS[family](family=family)}
    unknown = set(changes) - set(cfg)
    assert not unknown, f"not fields of {family}: {unknown}"
    cfg.update(SMALL[family])
    cfg.update(changes)
    return cfg


def optimizer_cfg(**changes: Any) -> dict[str, Any]:
    """Every field of the optimizer section, with a fixed learning rate."""
    base = {name: value for name, value in OptimizerSpec(learning_rate=0.01)}
    base.update(changes)
    return base


def make_dataset(
    kind: str, task: str, n: int = 24, shape: tuple[int, ...] | None = None, seed: int = 0
) -> Dataset:
    """A tiny dataset of ``kind`` for ``task``; dev and train-dev hold the first 8 examples."""
    rng = np.random.default_rng(seed)
    if kind == "text":
        x = np.array(
            [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 8)))) for _ in range(n)],
            dtype=object,
        )
    else:
        default = {"image": (6, 6, 2), "sequence": (12, 3)}.get(kind, (5,))
        x = rng.normal(size=(n, *(shape or default))).astype("float32")
    return dataset_from(kind, task, x, labels(task, n, rng))


def labels(task: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Encoded targets for ``task``: classes cycle, regression targets are normal."""
    if task == "regression":
        return rng.normal(size=n).astype("float32")
    return np.arange(n) % len(CLASS_NAMES[task])


def dataset_from(kind: str, task: str, x: np.ndarray, y: np.ndarray, dev: int = 8) -> Dataset:
    """A Dataset of ``x``/``y``: all rows train; the first ``dev`` rows are every other split."""
    splits = {name: Split(x[:dev], y[:dev]) for name in SPLITS}
    splits["train"] = Split(x, y)
    return Dataset("tiny", kind, task, splits, CLASS_NAMES[task])


def compiled(cfg: dict[str, Any], data: Dataset) -> Any:
    """Build the model for ``cfg`` and compile it as a trial does, but eagerly.

    Tracing the training step of a stacked recurrent model costs seconds; graph-mode training
    of every family is covered once by ``test_run_trial_trains_every_family``.
    """
    model = models.build_model(cfg, data)
    loss, metrics = loss_and_metrics(data.task)
    model.compile(
        optimizer=make_optimizer(optimizer_cfg()), loss=loss, metrics=metrics,
        run_eagerly=True,
    )
    return model


def layers_of(model: Any, cls: type) -> list[Any]:
    """The model's layers of exactly class ``cls``."""
    return [layer for layer in model.layers if type(layer) is cls]


def trainable_count(model: Any) -> int:
    """Number of trainable parameters."""
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def fit_and_check_outputs(model: Any, data: Dataset) -> None:
    """Fit one epoch, then check the loss and the prediction shape and range for the task."""
    history = model.fit(data.train.x, data.train.y, epochs=1, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 1 and math.isfinite(history.history["loss"][0])
    pred = keras.ops.convert_to_numpy(model(data.train.x, training=False))
    n = len(data.train)
    if data.task == "binary":
        assert pred.shape == (n, 1)
        assert np.all((pred >= 0) & (pred <= 1))
    elif data.task == "multiclass":
        assert pred.shape == (n, data.num_classes)
        assert np.all(pred >= 0)
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-5)
    else:
        assert pred.shape == (n, 1)
        assert np.all(np.isfinite(pred))


# --- each family builds, compiles and fits ------------------------------------------------------


CNN_CASES = [
    ("binary", {"blocks": 1, "filters_growth": "double", "pooling": "max", "batch_norm": False,
                "head": "flatten", "dense_layers": 0}),
    ("multiclass", {"blocks": 2, "filters_growth": "constant", "pooling": "avg",
                    "batch_norm": True, "head": "global_avg", "dense_layers": 1}),
    ("regression", {"blocks": 3, "filters_growth": "double", "pooling": "none",
                    "batch_norm": True, "head": "flatten", "dense_layers": 1}),
    ("multiclass", {"blocks": 3, "filters_growth": "constant", "pooling": "max",
                    "batch_norm": False, "head": "global_avg", "dense_layers": 0,
                    "activation": "leaky_relu", "dropout": 0.0}),
    ("binary", {"blocks": 2, "filters_growth": "double", "pooling": "avg", "batch_norm": False,
                "head": "flatten", "dense_layers": 1, "activation": "gelu"}),
]


@pytest.mark.parametrize(("task", "changes"), CNN_CASES)
def test_cnn_builds_and_fits(task: str, changes: dict[str, Any]) -> None:
    cfg = family_cfg("cnn", **changes)
    data = make_dataset("image", task)
    model = compiled(cfg, data)
    convs = layers_of(model, keras.layers.Conv2D)
    assert [c.filters for c in convs] == block_filters(cfg)
    growth = 2 if cfg["filters_growth"] == "double" else 1
    assert block_filters(cfg) == [4 * growth**i for i in range(cfg["blocks"])]
    assert all(c.use_bias is not cfg["batch_norm"] for c in convs)
    assert len(layers_of(model, keras.layers.BatchNormalization)) == (
        cfg["blocks"] if cfg["batch_norm"] else 0
    )
    pools = {"max": keras.layers.MaxPooling2D, "avg": keras.layers.AveragePooling2D}
    for name, cls in pools.items():
        assert len(layers_of(model, cls)) == (cfg["blocks"] if cfg["pooling"] == name else 0)
    global_avg = layers_of(model, keras.layers.GlobalAveragePooling2D)
    assert len(global_avg) == (cfg["head"] == "global_avg")
    assert len(layers_of(model, keras.layers.Flatten)) == (cfg["head"] == "flatten")
    assert len(layers_of(model, keras.layers.Dropout)) == (cfg["dropout"] > 0)
    assert len(layers_of(model, keras.layers.Dense)) == cfg["dense_layers"] + 1
    fit_and_check_outputs(model, data)


RNN_CASES = [
    ("binary", {"cell": "lstm", "layers": 1, "bidirectional": False, "dense_units": 0,
                "head_dropout": 0.0}),
    ("multiclass", {"cell": "gru", "layers": 2, "bidirectional": True, "dense_units": 8,
                    "head_dropout": 0.5}),
    ("regression", {"cell": "simple", "layers": 2, "bidirectional": False, "dense_units": 8,
                    "head_dropout": 0.0}),
    ("multiclass", {"cell": "lstm", "layers": 2, "bidirectional": True, "dense_units": 0,
                    "head_dropout": 0.2, "dropout": 0.1, "recurrent_dropout": 0.1}),
    ("binary", {"cell": "simple", "layers": 1, "bidirectional": True, "dense_units": 0,
                "head_dropout": 0.3}),
    ("regression", {"cell": "gru", "layers": 1, "bidirectional": False, "dense_units": 8,
                    "head_dropout": 0.0}),
]


@pytest.mark.parametrize(("task", "changes"), RNN_CASES)
def test_rnn_builds_and_fits(task: str, changes: dict[str, Any]) -> None:
    cfg = family_cfg("rnn", **changes)
    data = make_dataset("text", task)
    model = compiled(cfg, data)
    cell = RECURRENT[cfg["cell"]]
    wrapped = layers_of(model, keras.layers.Bidirectional)
    plain = layers_of(model, cell)
    assert len(wrapped) == (cfg["layers"] if cfg["bidirectional"] else 0)
    assert len(plain) == (0 if cfg["bidirectional"] else cfg["layers"])
    stack = [w.forward_layer for w in wrapped] + plain
    assert all(type(layer) is cell for layer in stack)
    assert [layer.return_sequences for layer in stack] == [True] * (cfg["layers"] - 1) + [False]
    assert all(layer.units == 4 and layer.dropout == cfg["dropout"] for layer in stack)
    assert all(layer.recurrent_dropout == cfg["recurrent_dropout"] for layer in stack)
    width = 4 * (2 if cfg["bidirectional"] else 1)
    assert tuple(layers_of(model, keras.layers.Dense)[-1].input.shape) == (
        None, cfg["dense_units"] or width,
    )
    assert len(layers_of(model, keras.layers.Dense)) == 1 + (cfg["dense_units"] > 0)
    assert len(layers_of(model, keras.layers.Dropout)) == (cfg["head_dropout"] > 0)
    vectorize = layers_of(model, keras.layers.TextVectorization)[0]
    assert sorted(vectorize.get_vocabulary()[2:]) == sorted(set(" ".join(data.train.x).split()))
    fit_and_check_outputs(model, data)


MLP_CASES = [
    ("tabular", "binary", {"layers": 1, "batch_norm": False}),
    ("tabular", "multiclass", {"layers": 3, "batch_norm": True, "dropout": 0.2}),
    ("tabular", "regression", {"layers": 2, "batch_norm": False, "activation": "gelu"}),
    ("image", "multiclass", {"layers": 1, "batch_norm": True}),
]


@pytest.mark.parametrize(("kind", "task", "changes"), MLP_CASES)
def test_mlp_builds_and_fits(kind: str, task: str, changes: dict[str, Any]) -> None:
    cfg = family_cfg("mlp", **changes)
    data = make_dataset(kind, task)
    model = compiled(cfg, data)
    dense = layers_of(model, keras.layers.Dense)
    assert [d.units for d in dense[:-1]] == [8] * cfg["layers"]
    assert all(d.use_bias is not cfg["batch_norm"] for d in dense[:-1])
    assert len(layers_of(model, keras.layers.BatchNormalization)) == (
        cfg["layers"] if cfg["batch_norm"] else 0
    )
    assert len(layers_of(model, keras.layers.Dropout)) == (cfg["layers"] if cfg["dropout"] else 0)
    assert len(layers_of(model, keras.layers.Flatten)) == (kind == "image")
    fit_and_check_outputs(model, data)


def test_normalization_is_adapted_on_the_training_split_only() -> None:
    data = make_dataset("tabular", "binary")
    shifted = Split(data.splits["dev"].x + 100.0, data.splits["dev"].y)
    data = Dataset(data.name, data.kind, data.task, {**data.splits, "dev": shifted},
                   data.class_names)
    model = models.build_model(family_cfg("mlp"), data)
    norm = layers_of(model, keras.layers.Normalization)[0]
    np.testing.assert_allclose(np.ravel(norm.mean), data.train.x.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(np.ravel(norm.variance), data.train.x.var(axis=0), rtol=1e-4)


# --- parameter counts by hand -------------------------------------------------------------------


def test_cnn_parameter_count_without_batch_norm() -> None:
    data = make_dataset("image", "binary", n=8, shape=(4, 4, 3))
    cfg = family_cfg("cnn", blocks=1, filters=2, kernel_size=3, pooling="none", batch_norm=False,
                     head="flatten", dense_layers=0)
    model = models.build_model(cfg, data)
    norm = layers_of(model, keras.layers.Normalization)[0]
    assert norm.trainable_weights == [] and norm.count_params() > 0
    conv = layers_of(model, keras.layers.Conv2D)[0]
    assert conv.count_params() == 3 * 3 * 3 * 2 + 2 == 56
    output = model.get_layer("output")
    assert output.count_params() == 4 * 4 * 2 + 1 == 33
    assert trainable_count(model) == 56 + 33


def test_cnn_parameter_count_with_batch_norm() -> None:
    data = make_dataset("image", "binary", n=8, shape=(4, 4, 3))
    cfg = family_cfg("cnn", blocks=1, filters=2, kernel_size=3, pooling="none", batch_norm=True,
                     head="flatten", dense_layers=0)
    model = models.build_model(cfg, data)
    assert layers_of(model, keras.layers.Conv2D)[0].count_params() == 3 * 3 * 3 * 2
    batch_norm = layers_of(model, keras.layers.BatchNormalization)[0]
    assert trainable_count(batch_norm) == 2 * 2
    assert batch_norm.count_params() == 4 * 2
    assert trainable_count(model) == 54 + 4 + 33


@pytest.mark.parametrize(("head", "features"), [("flatten", 2 * 2 * 4), ("global_avg", 4)])
def test_cnn_parameter_count_with_doubling_pooling_and_dense(head: str, features: int) -> None:
    data = make_dataset("image", "multiclass", n=9, shape=(5, 5, 1))
    cfg = family_cfg("cnn", blocks=2, filters=2, filters_growth="double", kernel_size=3,
                     pooling="max", batch_norm=False, head=head, dense_layers=1, dense_units=8)
    model = models.build_model(cfg, data)
    assert [c.count_params() for c in layers_of(model, keras.layers.Conv2D)] == [
        3 * 3 * 1 * 2 + 2, 3 * 3 * 2 * 4 + 4,
    ]
    dense = features * 8 + 8
    assert trainable_count(model) == 20 + 76 + dense + 8 * 3 + 3


def test_mlp_parameter_count() -> None:
    data = make_dataset("tabular", "binary", n=8, shape=(5,))
    model = models.build_model(family_cfg("mlp", layers=2, units=4, batch_norm=False), data)
    assert [d.count_params() for d in layers_of(model, keras.layers.Dense)] == [
        5 * 4 + 4, 4 * 4 + 4, 4 + 1,
    ]
    assert trainable_count(model) == 24 + 20 + 5
    norm = layers_of(model, keras.layers.Normalization)[0]
    assert norm.trainable_weights == [] and tuple(norm.mean.shape)[-1] == 5


def test_mlp_parameter_count_with_batch_norm() -> None:
    data = make_dataset("tabular", "binary", n=8, shape=(5,))
    model = models.build_model(family_cfg("mlp", layers=2, units=4, batch_norm=True), data)
    assert trainable_count(model) == 5 * 4 + 2 * 4 + 4 * 4 + 2 * 4 + 5


def test_mlp_on_images_flattens_first() -> None:
    data = make_dataset("image", "multiclass", n=9, shape=(4, 4, 1))
    model = models.build_model(family_cfg("mlp", layers=1, units=3), data)
    assert trainable_count(model) == (16 * 3 + 3) + (3 * 3 + 3)


@pytest.mark.parametrize(
    ("cell", "bidirectional", "layers", "recurrent"),
    [
        ("lstm", False, 1, 4 * (3 * (2 + 3) + 3)),
        ("lstm", True, 1, 2 * 4 * (3 * (2 + 3) + 3)),
        ("lstm", False, 2, 4 * (3 * (2 + 3) + 3) + 4 * (3 * (3 + 3) + 3)),
        ("gru", False, 1, 3 * (3 * (2 + 3) + 2 * 3)),
        ("simple", False, 1, 3 * (2 + 3) + 3),
    ],
)
def test_rnn_parameter_count(cell: str, bidirectional: bool, layers: int, recurrent: int) -> None:
    data = dataset_from("text", "binary", TEXTS, np.arange(len(TEXTS)) % 2)
    cfg = family_cfg("rnn", cell=cell, units=3, embedding_dim=2, layers=layers,
                     bidirectional=bidirectional, vocab_size=100, dense_units=0)
    model = models.build_model(cfg, data)
    vocabulary = layers_of(model, keras.layers.TextVectorization)[0].get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and sorted(vocabulary[2:]) == [
        "bad", "film", "good", "movie",
    ]
    embedding = 6 * 2
    output = 3 * (2 if bidirectional else 1) + 1
    assert layers_of(model, keras.layers.Embedding)[0].count_params() == embedding
    assert trainable_count(model) == embedding + recurrent + output


def test_rnn_vocabulary_is_capped_at_vocab_size() -> None:
    data = dataset_from("text", "binary", TEXTS, np.arange(len(TEXTS)) % 2)
    cfg = family_cfg("rnn", vocab_size=4, embedding_dim=2)
    model = models.build_model(cfg, data)
    assert len(layers_of(model, keras.layers.TextVectorization)[0].get_vocabulary()) == 4
    assert layers_of(model, keras.layers.Embedding)[0].count_params() == 4 * 2


# --- family lookup and data kinds ---------------------------------------------------------------


def test_unknown_family_lists_the_valid_names() -> None:
    with pytest.raises(SpecError) as caught:
        models.get("nope")
    assert str(caught.value) == (
        "Unknown model family. Expected one of cnn, rnn, mlp, custom. Received: model.family='nope'"
    )


@pytest.mark.parametrize(
    ("family", "kind", "message"),
    [
        ("rnn", "image", "model.family rnn takes text or sequence data, but tiny is image data. "
                         "Received: model.family='rnn'"),
        ("rnn", "tabular", "model.family rnn takes text or sequence data, but tiny is tabular "
                           "data. Received: model.family='rnn'"),
        ("cnn", "tabular", "model.family cnn takes image, text or sequence data, but tiny is "
                           "tabular data. Received: model.family='cnn'"),
        ("mlp", "text", "model.family mlp takes tabular, image or sequence data, but tiny is "
                        "text data. Received: model.family='mlp'"),
    ],
    ids=["rnn-image", "rnn-tabular", "cnn-tabular", "mlp-text"],
)
def test_check_fits_rejects_the_wrong_kind_of_data(family: str, kind: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        models.check_fits(MODEL_SPECS[family](family=family), make_dataset(kind, "binary", n=4))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("family", "kind"),
    [("cnn", "image"), ("rnn", "text"), ("mlp", "tabular"), ("mlp", "image")],
)
def test_check_fits_accepts_the_right_kind_of_data(family: str, kind: str) -> None:
    assert models.check_fits(MODEL_SPECS[family](family=family), make_dataset(kind, "binary", n=4)) is None


# --- optimizer, loss, metric names --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls", "attributes"),
    [
        ("adam", "Adam", {"beta_1": 0.8, "beta_2": 0.99}),
        ("adamw", "AdamW", {"beta_1": 0.8, "beta_2": 0.99, "weight_decay": 0.01}),
        ("sgd", "SGD", {"momentum": 0.5}),
        ("rmsprop", "RMSprop", {"momentum": 0.5}),
    ],
)
def test_make_optimizer(name: str, cls: str, attributes: dict[str, float]) -> None:
    cfg = optimizer_cfg(name=name, learning_rate=0.02, momentum=0.5, beta_1=0.8, beta_2=0.99,
                        weight_decay=0.01, clipnorm=1.5)
    optimizer = make_optimizer(cfg)
    assert type(optimizer) is getattr(keras.optimizers, cls)
    assert float(optimizer.learning_rate) == pytest.approx(0.02)
    assert optimizer.clipnorm == 1.5
    for attribute, value in attributes.items():
        assert getattr(optimizer, attribute) == pytest.approx(value), attribute


def test_make_optimizer_without_clipnorm() -> None:
    optimizer = make_optimizer(optimizer_cfg(name="sgd", learning_rate=0.1))
    assert type(optimizer) is keras.optimizers.SGD
    assert optimizer.clipnorm is None and optimizer.momentum == 0.0
    assert float(optimizer.learning_rate) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("task", "regression_loss", "loss", "names"),
    [
        ("binary", "mse", "binary_crossentropy", ["accuracy", "auc"]),
        ("multiclass", "mse", "sparse_categorical_crossentropy", ["accuracy"]),
        ("regression", "mse", "mse", ["mae", "rmse"]),
        ("regression", "mae", "mae", ["mae", "rmse"]),
    ],
)
def test_loss_and_metrics(task: str, regression_loss: str, loss: str, names: list[str]) -> None:
    got_loss, got_metrics = loss_and_metrics(task, regression_loss)
    assert got_loss == loss
    assert [m if isinstance(m, str) else m.name for m in got_metrics] == names


def test_rename_keras_logs() -> None:
    logs = {"loss": 1, "accuracy": 0.5, "val_loss": 2, "val_accuracy": 0.25, "val_mae": 3}
    assert rename(logs) == {
        "loss": 1.0, "accuracy": 0.5, "dev_loss": 2.0, "dev_accuracy": 0.25, "dev_mae": 3.0,
    }


# --- run_trial ----------------------------------------------------------------------------------


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
        for metric in ("loss", "accuracy", "auc", "f1")
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
        "dev_accuracy", "dev_auc", "dev_f1", "dev_loss", "latency_ms", "model_size_mb", "params",
        "train_accuracy", "train_auc", "train_f1", "train_loss", "train_time_s",
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


@pytest.mark.parametrize(
    ("blocks", "pooling", "ok"),
    [(3, "max", True), ({"int": [1, 4]}, "max", False), ({"choice": [2, 4]}, "avg", False),
     (4, "none", True), (4, {"choice": ["none"]}, True), (4, {"choice": ["none", "max"]}, False)],
)
def test_cnn_pooling_must_keep_one_pixel(blocks: Any, pooling: Any, ok: bool) -> None:
    section = MODEL_SPECS["cnn"](family="cnn", blocks=blocks, pooling=pooling)
    data = make_dataset("image", "binary", n=8, shape=(8, 8, 1))
    if ok:
        models.check_fits(section, data)
        return
    with pytest.raises(SpecError) as caught:
        models.check_fits(section, data)
    assert str(caught.value).startswith(
        f"model.blocks: 4 blocks shrink the 8x8 input of {data.name} to nothing (size 8 -> 0) with "
        "the largest kernel_size and strides the space allows and 2x pooling per block; use fewer "
        "blocks, padding: same, smaller strides, or pooling: none. Received: model.blocks="
    )


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


MORE_CNN_CASES = [
    ("image", "binary", {"residual": True, "batch_norm": True, "blocks": 2}),
    ("image", "multiclass", {"residual": True, "strides": 2, "pooling": "none"}),
    ("image", "binary", {"padding": "valid", "kernel_size": 2, "blocks": 1, "head": "global_max",
                         "l1": 0.01, "l2": 0.02, "initializer": "glorot_uniform"}),
    ("image", "multiclass", {"flip": "horizontal", "rotation": 0.1, "zoom": 0.1, "translation": 0.1}),
    ("text", "binary", {"blocks": 2, "head": "global_max", "vocab_size": 50, "sequence_length": 8,
                        "embedding_dim": 4}),
    ("sequence", "regression", {"blocks": 2, "pooling": "max", "residual": True}),
]


@pytest.mark.parametrize(("kind", "task", "changes"), MORE_CNN_CASES)
def test_cnn_options_build_and_fit(kind: str, task: str, changes: dict[str, Any]) -> None:
    cfg = family_cfg("cnn", **changes)
    data = make_dataset(kind, task)
    model = compiled(cfg, data)
    conv_class = keras.layers.Conv2D if kind == "image" else keras.layers.Conv1D
    convs = layers_of(model, conv_class)
    residual = cfg["residual"]
    assert len(layers_of(model, keras.layers.Add)) == (cfg["blocks"] if residual else 0)
    assert len(convs) >= cfg["blocks"] * (2 if residual else 1)
    first = convs[0]
    assert first.strides == (cfg["strides"],) * (2 if kind == "image" else 1)
    assert first.padding == ("same" if residual else cfg["padding"])
    expected_init = "GlorotUniform" if cfg["initializer"] == "glorot_uniform" else "HeNormal"
    assert type(first.kernel_initializer).__name__ == expected_init
    if cfg["l1"] or cfg["l2"]:
        assert first.kernel_regularizer.get_config() == pytest.approx({"l1": 0.01, "l2": 0.02})
    else:
        assert first.kernel_regularizer is None
    assert len(layers_of(model, keras.layers.Embedding)) == (kind == "text")
    augmenting = [keras.layers.RandomFlip, keras.layers.RandomRotation, keras.layers.RandomZoom,
                  keras.layers.RandomTranslation]
    assert sum(len(layers_of(model, cls)) for cls in augmenting) == (4 if cfg["flip"] != "none" else 0)
    fit_and_check_outputs(model, data)


def test_augmentation_acts_only_while_training() -> None:
    cfg = family_cfg("cnn", flip="horizontal_and_vertical", rotation=0.2, zoom=0.2, translation=0.2,
                     dropout=0.0)
    data = make_dataset("image", "multiclass")
    model = models.build_model(cfg, data)
    x = data.train.x[:4]
    inference = [np.asarray(model(x, training=False)) for _ in range(2)]
    assert np.array_equal(inference[0], inference[1])
    assert not np.allclose(np.asarray(model(x, training=True)), inference[0])


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple"])
def test_rnn_on_numeric_sequences_takes_no_embedding(cell: str) -> None:
    data = make_dataset("sequence", "regression")
    model = compiled(family_cfg("rnn", cell=cell, units=3, l2=0.01), data)
    assert layers_of(model, keras.layers.Embedding) == []
    assert layers_of(model, keras.layers.TextVectorization) == []
    norm = layers_of(model, keras.layers.Normalization)[0]
    assert tuple(norm.mean.shape)[-1] == 3
    recurrent = layers_of(model, RECURRENT[cell])[0]
    assert recurrent.cell.kernel_regularizer.get_config()["l2"] == pytest.approx(0.01)
    assert type(recurrent.cell.kernel_initializer).__name__ == "GlorotUniform"
    fit_and_check_outputs(model, data)


def test_mlp_on_sequences_flattens_with_penalties() -> None:
    data = make_dataset("sequence", "binary")
    model = compiled(family_cfg("mlp", layers=1, units=4, l1=0.001, activation="selu"), data)
    dense = layers_of(model, keras.layers.Dense)[0]
    assert dense.kernel.shape == (12 * 3, 4)
    assert type(dense.kernel_initializer).__name__ == "LecunNormal"
    assert dense.kernel_regularizer.get_config()["l1"] == pytest.approx(0.001)
    fit_and_check_outputs(model, data)


@pytest.mark.parametrize(
    ("side", "blocks", "kernel", "strides", "padding", "pooling", "left"),
    [
        (8, 3, 3, 1, "same", True, 1),
        (8, 4, 3, 1, "same", True, 0),
        (8, 1, 3, 1, "valid", False, 6),
        (8, 2, 3, 2, "valid", False, 1),
        (8, 2, 3, 2, "same", False, 2),
        (28, 2, 3, 1, "valid", True, 5),
        (5, 2, 3, 1, "valid", False, 1),
        (5, 3, 3, 1, "valid", False, 0),
    ],
)
def test_smallest_side(side, blocks, kernel, strides, padding, pooling, left) -> None:
    from autodl.models.cnn import smallest_side

    assert smallest_side(side, blocks, kernel, strides, padding, pooling) == left


def test_valid_padding_that_leaves_nothing_is_caught_before_training() -> None:
    section = MODEL_SPECS["cnn"](family="cnn", blocks=3, kernel_size={"choice": [3, 5]},
                                 padding="valid", pooling="none")
    with pytest.raises(SpecError, match=r"model.blocks: 3 blocks shrink the 6x6 input of tiny to nothing \(size 6 -> 0\)"):
        models.check_fits(section, make_dataset("image", "binary"))


def test_regression_output_is_rescaled_to_the_training_targets() -> None:
    data = make_dataset("tabular", "regression")
    data = dataset_from("tabular", "regression", data.train.x, data.train.y * 50 + 1000)
    model = models.build_model(family_cfg("mlp", layers=1, units=4), data)
    rescale = model.get_layer("output")
    assert isinstance(rescale, keras.layers.Rescaling)
    assert rescale.scale == pytest.approx(float(data.train.y.std()), rel=1e-5)
    assert rescale.offset == pytest.approx(float(data.train.y.mean()), rel=1e-5)
    untrained = np.asarray(model(data.train.x, training=False)).ravel()
    assert abs(untrained.mean() - data.train.y.mean()) < 3 * data.train.y.std()
    assert model.get_layer("standardized_output").units == 1
