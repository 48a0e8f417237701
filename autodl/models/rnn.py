"""RNN family: stacked (bidirectional) LSTM / GRU / SimpleRNN layers, then a dense head.

Text goes through TextVectorization and an Embedding first; numeric sequences (time-series
windows) go in directly, normalized per feature.
"""

from __future__ import annotations

from typing import Any

from autodl.data.dataset import Dataset
from autodl.models.blocks import (
    initializer,
    normalized_input,
    output_head,
    penalty,
    text_input,
)
from autodl.models.embeddings import WordVectors
from autodl.runtime.backend import load_keras

DATA_KINDS = ("text", "sequence")
CELLS = {"lstm": "LSTM", "gru": "GRU", "simple": "SimpleRNN"}


def build(cfg: dict[str, Any], data: Dataset, vectors: WordVectors | None = None) -> Any:
    """Build an uncompiled RNN whose preprocessing is fitted on the training split only."""
    keras = load_keras()
    if data.kind == "text":
        inputs, x = text_input(cfg, data, mask=True, vectors=vectors)
    else:
        inputs, x = normalized_input(data)
    cell = getattr(keras.layers, CELLS[cfg["cell"]])
    for depth in range(cfg["layers"]):
        layer = cell(
            cfg["units"],
            dropout=cfg["dropout"],
            recurrent_dropout=cfg["recurrent_dropout"],
            kernel_initializer=initializer(cfg["initializer"], "tanh"),
            kernel_regularizer=penalty(cfg),
            return_sequences=depth < cfg["layers"] - 1,
        )
        x = (keras.layers.Bidirectional(layer) if cfg["bidirectional"] else layer)(x)
    if cfg["dense_units"] > 0:
        x = keras.layers.Dense(
            cfg["dense_units"],
            activation="relu",
            kernel_initializer=initializer(cfg["initializer"], "relu"),
            kernel_regularizer=penalty(cfg),
        )(x)
    if cfg["head_dropout"] > 0:
        x = keras.layers.Dropout(cfg["head_dropout"])(x)
    return keras.Model(inputs, output_head(x, data), name="rnn")
