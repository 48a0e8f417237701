"""CNN family: conv blocks (conv, optional batch norm, activation, pooling), then a dense head."""

from __future__ import annotations

from typing import Any

from autodl.backend import load_keras
from autodl import space
from autodl.data.dataset import Dataset
from autodl.errors import SpecError
from autodl.models.blocks import activation, normalized_input, output_head

DATA_KINDS = ("image",)


def _largest(value: Any) -> int:
    if isinstance(value, space.IntRange):
        return value.high
    if isinstance(value, space.Choice):
        return max(value.values)
    return int(value)


def check(section: Any, data: Dataset) -> None:
    """Every 2x2 pooling halves the image: the deepest searched network must keep 1x1 or more."""
    pooling = section.pooling
    if pooling == "none" or (isinstance(pooling, space.Choice) and set(pooling.values) == {"none"}):
        return
    side = min(data.input_shape[:2])
    blocks = _largest(section.blocks)
    if side // 2**blocks < 1:
        most = max(side.bit_length() - 1, 1)
        height, width = data.input_shape[:2]
        raise SpecError(
            f"model.blocks: {blocks} pooling blocks shrink the {height}x{width} input of "
            f"{data.name} below 1x1; use at most {most} blocks or pooling: none. "
            f"Received: model.blocks={space.describe(section.blocks)}"
        )


def block_filters(cfg: dict[str, Any]) -> list[int]:
    """Filters of each conv block: constant, or doubling with depth as in VGG."""
    grow = cfg["filters_growth"] == "double"
    return [cfg["filters"] * (2**i if grow else 1) for i in range(cfg["blocks"])]


def build(cfg: dict[str, Any], data: Dataset) -> Any:
    """Build an uncompiled CNN for ``data`` from one sampled configuration."""
    keras = load_keras()

    inputs, x = normalized_input(data)
    for filters in block_filters(cfg):
        x = keras.layers.Conv2D(
            filters, cfg["kernel_size"], padding="same", use_bias=not cfg["batch_norm"]
        )(x)
        if cfg["batch_norm"]:
            x = keras.layers.BatchNormalization()(x)
        x = activation(cfg["activation"])(x)
        if cfg["pooling"] != "none":
            pool = keras.layers.MaxPooling2D if cfg["pooling"] == "max" else keras.layers.AveragePooling2D
            x = pool(pool_size=2, padding="same")(x)
    if cfg["head"] == "global_avg":
        x = keras.layers.GlobalAveragePooling2D()(x)
    else:
        x = keras.layers.Flatten()(x)
    if cfg["dropout"] > 0:
        x = keras.layers.Dropout(cfg["dropout"])(x)
    for _ in range(cfg["dense_layers"]):
        x = keras.layers.Dense(cfg["dense_units"])(x)
        x = activation(cfg["activation"])(x)
    return keras.Model(inputs, output_head(x, data), name="cnn")
