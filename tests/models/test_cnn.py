"""The CNN family on tiny in-memory data: layers per option, parameter counts by hand, and the
check that the blocks leave at least one pixel."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autodl import models
from autodl.errors import SpecError
from autodl.models.cnn import block_filters
from autodl.runtime.backend import load_keras
from autodl.spec.sections import MODEL_SPECS
from tests.helpers import compiled, family_cfg, fit_and_check_outputs, layers_of, make_dataset, trainable_count

keras = load_keras()
pytestmark = pytest.mark.usefixtures("fresh_keras")


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
    with pytest.raises(
        SpecError, match=r"model.blocks: 3 blocks shrink the 6x6 input of tiny to nothing \(size 6 -> 0\)"
    ):
        models.check_fits(section, make_dataset("image", "binary"))
