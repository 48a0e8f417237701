"""Layers every family shares: inputs with preprocessing fitted on the training split only,
initializers and penalties by name, output heads."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodl.data import feed
from autodl.data.dataset import Dataset
from autodl.models.embeddings import WordVectors
from autodl.runtime.backend import load_keras

GLOROT_ACTIVATIONS = ("tanh", "sigmoid")


def normalized_input(data: Dataset) -> tuple[Any, Any]:
    """A numeric input and its normalization, adapted on the training split only.

    Images share one mean and variance; tables and sequences get one per feature (last axis).
    The statistics live in the model, so a saved model takes raw inputs.
    """
    keras = load_keras()
    inputs = keras.Input(shape=data.input_shape, name="inputs")
    norm = keras.layers.Normalization(axis=None if data.kind == "image" else -1)
    norm.adapt(feed.adapt_data(data.train))
    return inputs, norm(inputs)


def text_input(cfg: dict[str, Any], data: Dataset, mask: bool,
               vectors: WordVectors | None = None) -> tuple[Any, Any]:
    """Raw strings -> TextVectorization (vocabulary adapted on the training split) -> Embedding.

    ``mask`` lets recurrent layers skip the padding; convolutions take no mask. With pretrained
    ``vectors`` the Embedding starts from them (and trains only if ``embeddings_trainable``).
    """
    keras = load_keras()
    inputs = keras.Input(shape=(), dtype="string", name="text")
    vectorize = keras.layers.TextVectorization(
        max_tokens=cfg["vocab_size"], output_sequence_length=cfg["sequence_length"]
    )
    vectorize.adapt(feed.adapt_data(data.train))
    x = vectorize(inputs)
    vocabulary = vectorize.get_vocabulary()
    if vectors is None:
        embed = keras.layers.Embedding(input_dim=len(vocabulary), output_dim=cfg["embedding_dim"],
                                       mask_zero=mask)
        return inputs, embed(x)
    embed = keras.layers.Embedding(input_dim=len(vocabulary), output_dim=vectors.dim, mask_zero=mask,
                                   trainable=cfg["embeddings_trainable"], name="pretrained_embedding")
    x = embed(x)
    embed.set_weights([vectors.matrix(vocabulary, seed=int(np.random.randint(2**31 - 1)))])  # seeded per trial
    return inputs, x


def initializer(name: str, activation_name: str) -> str:
    """``auto`` picks He for the ReLU family, Glorot for tanh/sigmoid, LeCun for SELU."""
    if name != "auto":
        return name
    if activation_name in GLOROT_ACTIVATIONS:
        return "glorot_uniform"
    return "lecun_normal" if activation_name == "selu" else "he_normal"


def penalty(cfg: dict[str, Any]) -> Any:
    """The L1/L2 weight penalty of a section, or ``None`` when both are 0."""
    if not (cfg.get("l1") or cfg.get("l2")):
        return None
    return load_keras().regularizers.L1L2(l1=cfg.get("l1", 0.0), l2=cfg.get("l2", 0.0))


def output_head(x: Any, data: Dataset) -> Any:
    """The last layer for the task: sigmoid, softmax, or linear; float32 even under mixed precision.

    A regression output is learned in standard units and rescaled by the training targets' mean
    and spread, so it starts near the mean and the saved model predicts in the data's units.
    """
    keras = load_keras()
    if data.task == "binary":
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="output")(x)
    if data.task == "multiclass":
        return keras.layers.Dense(
            data.num_classes, activation="softmax", dtype="float32", name="output"
        )(x)
    y = data.train.y.astype("float64")
    spread = float(y.std()) or 1.0
    x = keras.layers.Dense(1, dtype="float32", name="standardized_output")(x)
    return keras.layers.Rescaling(spread, offset=float(y.mean()), dtype="float32", name="output")(x)


def activation(name: str) -> Any:
    """A Keras activation layer by spec name."""
    keras = load_keras()
    if name == "leaky_relu":
        return keras.layers.LeakyReLU()
    return keras.layers.Activation(name)
