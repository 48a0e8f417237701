"""Layers every family shares: input normalization fitted on the training split, output heads."""

from __future__ import annotations

from typing import Any

from autodl.backend import load_keras
from autodl.data.dataset import Dataset


def normalized_input(data: Dataset) -> tuple[Any, Any]:
    """A numeric input and its normalization, adapted on the training split only.

    The statistics live in the model, so a saved model takes raw inputs.
    """
    keras = load_keras()

    inputs = keras.Input(shape=data.input_shape, name="inputs")
    norm = keras.layers.Normalization(axis=-1 if data.kind == "tabular" else None)
    norm.adapt(data.train.x)
    return inputs, norm(inputs)


def output_head(x: Any, data: Dataset) -> Any:
    """The last layer for the task: sigmoid, softmax, or linear; float32 even under mixed precision."""
    keras = load_keras()

    if data.task == "binary":
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="output")(x)
    if data.task == "multiclass":
        return keras.layers.Dense(
            data.num_classes, activation="softmax", dtype="float32", name="output"
        )(x)
    return keras.layers.Dense(1, dtype="float32", name="output")(x)


def activation(name: str) -> Any:
    """A Keras activation layer by spec name."""
    keras = load_keras()

    if name == "leaky_relu":
        return keras.layers.LeakyReLU()
    return keras.layers.Activation(name)
