"""The RNN family on tiny text and sequences: cells, stacking, bidirectional layers, vocabulary
and parameter counts by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autodl import models
from autodl.runtime.backend import load_keras
from tests.helpers import (
    compiled,
    dataset_from,
    family_cfg,
    fit_and_check_outputs,
    layers_of,
    make_dataset,
    trainable_count,
)

keras = load_keras()
pytestmark = pytest.mark.usefixtures("fresh_keras")


RECURRENT = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple": keras.layers.SimpleRNN}


TEXTS = np.array(["good movie", "bad movie", "good film", "bad film"] * 3, dtype=object)


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
