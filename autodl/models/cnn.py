"""CNN family: conv blocks (plain or residual), then a dense head.

Conv2D on images, Conv1D on text (after an embedding) and on numeric sequences. Image
augmentation layers come first and act only while training.
"""

from __future__ import annotations

import math
from typing import Any

from autodl.data.dataset import Dataset
from autodl.errors import SpecError
from autodl.models.blocks import (
    activation,
    initializer,
    normalized_input,
    output_head,
    penalty,
    text_input,
)
from autodl.models.embeddings import WordVectors
from autodl.runtime.backend import load_keras
from autodl.spec import space

DATA_KINDS = ("image", "text", "sequence")


def block_filters(cfg: dict[str, Any]) -> list[int]:
    """Filters of each conv block: constant, or doubling with depth as in VGG."""
    grow = cfg["filters_growth"] == "double"
    return [cfg["filters"] * (2**i if grow else 1) for i in range(cfg["blocks"])]


def smallest_side(side: int, blocks: int, kernel: int, strides: int, padding: str, pooling: bool) -> int:
    """The spatial size left after ``blocks`` conv blocks; below 1 means nothing is left.

    Pooling counts as halving (rounding down): pooling a single pixel is wasted depth.
    """
    for _ in range(blocks):
        if padding == "valid":
            side = (side - kernel) // strides + 1 if side >= kernel else 0
        else:
            side = math.ceil(side / strides)
        if pooling:
            side //= 2
        if side < 1:
            return side
    return side


def check(section: Any, data: Dataset) -> None:
    """The deepest network the space allows must keep at least one pixel (or time step)."""
    if data.kind == "image":
        side, shape = min(data.input_shape[:2]), "x".join(map(str, data.input_shape[:2]))
    elif data.kind == "sequence":
        side, shape = data.input_shape[0], f"{data.input_shape[0]}-step"
    else:
        side, shape = min(space.candidates(section.sequence_length)), "text"
    blocks = max(space.candidates(section.blocks))
    pooled = space.candidates(section.pooling) != ["none"]
    size = smallest_side(
        side, blocks, max(space.candidates(section.kernel_size)), max(space.candidates(section.strides)),
        "valid" if "valid" in space.candidates(section.padding) else "same", pooled,
    )
    if size < 1:
        raise SpecError(
            f"model.blocks: {blocks} blocks shrink the {shape} input of {data.name} to nothing "
            f"(size {side} -> {size}) with the largest kernel_size and strides the space allows"
            f"{' and 2x pooling per block' if pooled else ''}; use fewer blocks, padding: same, "
            f"smaller strides, or pooling: none. Received: model.blocks={space.describe(section.blocks)}"
        )


def _augment(x: Any, cfg: dict[str, Any]) -> Any:
    keras = load_keras()
    if cfg["flip"] != "none":
        x = keras.layers.RandomFlip(cfg["flip"])(x)
    if cfg["rotation"] > 0:
        x = keras.layers.RandomRotation(cfg["rotation"])(x)
    if cfg["zoom"] > 0:
        x = keras.layers.RandomZoom(cfg["zoom"])(x)
    if cfg["translation"] > 0:
        x = keras.layers.RandomTranslation(cfg["translation"], cfg["translation"])(x)
    return x


def _conv_block(x: Any, filters: int, cfg: dict[str, Any], conv: Any) -> Any:
    """Conv (+BN) + activation; residual blocks add a second conv and a shortcut (ResNet)."""
    keras = load_keras()
    common = {
        "kernel_initializer": initializer(cfg["initializer"], cfg["activation"]),
        "kernel_regularizer": penalty(cfg),
        "use_bias": not cfg["batch_norm"],
    }
    padding = "same" if cfg["residual"] else cfg["padding"]
    y = conv(filters, cfg["kernel_size"], strides=cfg["strides"], padding=padding, **common)(x)
    if cfg["batch_norm"]:
        y = keras.layers.BatchNormalization()(y)
    if not cfg["residual"]:
        return activation(cfg["activation"])(y)
    y = activation(cfg["activation"])(y)
    y = conv(filters, cfg["kernel_size"], padding="same", **common)(y)
    if cfg["batch_norm"]:
        y = keras.layers.BatchNormalization()(y)
    shortcut = x
    if x.shape[-1] != filters or cfg["strides"] != 1:
        shortcut = conv(filters, 1, strides=cfg["strides"], padding="same", **common)(x)
    return activation(cfg["activation"])(keras.layers.Add()([y, shortcut]))


def build(cfg: dict[str, Any], data: Dataset, vectors: WordVectors | None = None) -> Any:
    """Build an uncompiled CNN for ``data`` from one sampled configuration."""
    keras = load_keras()
    layers = keras.layers
    if data.kind == "text":
        inputs, x = text_input(cfg, data, mask=False, vectors=vectors)
    else:
        inputs, x = normalized_input(data)
    two_d = data.kind == "image"
    if two_d:
        x = _augment(x, cfg)
    conv = layers.Conv2D if two_d else layers.Conv1D
    pools = {
        "max": layers.MaxPooling2D if two_d else layers.MaxPooling1D,
        "avg": layers.AveragePooling2D if two_d else layers.AveragePooling1D,
    }
    for filters in block_filters(cfg):
        x = _conv_block(x, filters, cfg, conv)
        if cfg["pooling"] != "none":
            x = pools[cfg["pooling"]](pool_size=2, padding="same")(x)
    heads = {
        "flatten": layers.Flatten,
        "global_avg": layers.GlobalAveragePooling2D if two_d else layers.GlobalAveragePooling1D,
        "global_max": layers.GlobalMaxPooling2D if two_d else layers.GlobalMaxPooling1D,
    }
    x = heads[cfg["head"]]()(x)
    if cfg["dropout"] > 0:
        x = layers.Dropout(cfg["dropout"])(x)
    for _ in range(cfg["dense_layers"]):
        x = layers.Dense(
            cfg["dense_units"],
            kernel_initializer=initializer(cfg["initializer"], cfg["activation"]),
            kernel_regularizer=penalty(cfg),
        )(x)
        x = activation(cfg["activation"])(x)
    return keras.Model(inputs, output_head(x, data), name="cnn")
