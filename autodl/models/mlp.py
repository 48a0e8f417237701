"""MLP family: dense layers with optional batch norm and dropout, for tables or flattened inputs."""

from __future__ import annotations

from typing import Any

from autodl.data.dataset import Dataset
from autodl.models.blocks import (
    activation,
    initializer,
    normalized_input,
    output_head,
    penalty,
)
from autodl.runtime.backend import load_keras

DATA_KINDS = ("tabular", "image", "sequence")


def build(cfg: dict[str, Any], data: Dataset) -> Any:
    """Build an uncompiled MLP for ``data`` from one sampled configuration."""
    keras = load_keras()
    inputs, x = normalized_input(data)
    if len(data.input_shape) > 1:
        x = keras.layers.Flatten()(x)
    for _ in range(cfg["layers"]):
        x = keras.layers.Dense(
            cfg["units"],
            use_bias=not cfg["batch_norm"],
            kernel_initializer=initializer(cfg["initializer"], cfg["activation"]),
            kernel_regularizer=penalty(cfg),
        )(x)
        if cfg["batch_norm"]:
            x = keras.layers.BatchNormalization()(x)
        x = activation(cfg["activation"])(x)
        if cfg["dropout"] > 0:
            x = keras.layers.Dropout(cfg["dropout"])(x)
    return keras.Model(inputs, output_head(x, data), name="mlp")
