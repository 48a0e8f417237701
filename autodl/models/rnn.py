"""RNN family: TextVectorization -> Embedding -> stacked (bidirectional) LSTM / GRU / SimpleRNN."""

from __future__ import annotations

from typing import Any

from autodl.backend import load_keras
from autodl.data.dataset import Dataset
from autodl.models.blocks import output_head

DATA_KINDS = ("text",)
CELLS = {"lstm": "LSTM", "gru": "GRU", "simple": "SimpleRNN"}


def build(cfg: dict[str, Any], data: Dataset) -> Any:
    """Build an uncompiled RNN whose vocabulary is adapted on the training split only."""
    keras = load_keras()

    inputs = keras.Input(shape=(), dtype="string", name="text")
    vectorize = keras.layers.TextVectorization(
        max_tokens=cfg["vocab_size"], output_sequence_length=cfg["sequence_length"]
    )
    vectorize.adapt(data.train.x)
    x = vectorize(inputs)
    x = keras.layers.Embedding(
        input_dim=len(vectorize.get_vocabulary()), output_dim=cfg["embedding_dim"], mask_zero=True
    )(x)
    cell = getattr(keras.layers, CELLS[cfg["cell"]])
    for depth in range(cfg["layers"]):
        layer = cell(
            cfg["units"],
            dropout=cfg["dropout"],
            recurrent_dropout=cfg["recurrent_dropout"],
            return_sequences=depth < cfg["layers"] - 1,
        )
        x = (keras.layers.Bidirectional(layer) if cfg["bidirectional"] else layer)(x)
    if cfg["dense_units"] > 0:
        x = keras.layers.Dense(cfg["dense_units"], activation="relu")(x)
    if cfg["head_dropout"] > 0:
        x = keras.layers.Dropout(cfg["head_dropout"])(x)
    return keras.Model(inputs, output_head(x, data), name="rnn")
