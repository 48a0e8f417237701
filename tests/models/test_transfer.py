"""The transfer family: the backbone registry against keras.applications, the model's input
handling, its two training phases, and the weights checks (no training)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autodl import models
from autodl.errors import SpecError
from autodl.models import transfer
from autodl.runtime.backend import load_keras
from autodl.spec.backbones import BACKBONES
from autodl.spec.sections import TransferSpec
from tests.helpers import family_cfg, make_dataset


def test_every_keras_application_is_a_backbone_with_its_own_preprocessing() -> None:
    keras = load_keras()
    functions = {name for name in dir(keras.applications) if name[0].isupper()}
    assert {entry.keras_name for entry in BACKBONES} == functions
    for entry in BACKBONES:
        make = getattr(keras.applications, entry.keras_name)
        builds_its_own = ("include_preprocessing" in inspect.signature(make).parameters
                          or make.__module__.endswith(".efficientnet"))
        assert (entry.preprocessing == "included") == builds_its_own, entry.name


@pytest.mark.parametrize("name", [e.name for e in BACKBONES if e.min_size > 32])
def test_keras_refuses_an_input_below_the_registered_minimum(name: str) -> None:
    entry = BACKBONES.get(name)
    make = getattr(load_keras().applications, entry.keras_name)
    with pytest.raises(ValueError, match=str(entry.min_size)):
        make(include_top=False, weights=None, input_shape=(entry.min_size - 1, entry.min_size - 1, 3))


def pixels(values: list[list[float]]) -> np.ndarray:
    return np.asarray(values, dtype="float32").reshape(len(values), 1, 1, 3)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("resnet50_v2", [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]),
        ("densenet121", [[-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225],
                         [0.515 / 0.229, 0.544 / 0.224, 0.594 / 0.225]]),
        ("vgg16", [[-103.939, -116.779, -123.68], [255 - 103.939, 255 - 116.779, 255 - 123.68]]),
        ("efficientnet_b0", [[0.0, 0.0, 0.0], [255.0, 255.0, 255.0]]),
    ],
)
def test_raw_pixels_are_scaled_as_each_backbone_expects(name: str, expected: list[list[float]]) -> None:
    keras = load_keras()
    inputs = keras.Input((1, 1, 3))
    model = keras.Model(inputs, transfer.scaled_input(inputs, BACKBONES.get(name), 255.0))
    got = model.predict(pixels([[0, 0, 0], [255, 255, 255]]), verbose=0)
    np.testing.assert_allclose(got.reshape(2, 3), expected, rtol=1e-5, atol=1e-4)


def test_caffe_scaling_turns_rgb_into_centered_bgr() -> None:
    keras = load_keras()
    inputs = keras.Input((1, 1, 3))
    model = keras.Model(inputs, transfer.scaled_input(inputs, BACKBONES.get("resnet50"), 255.0))
    got = model.predict(pixels([[10, 20, 30]]), verbose=0).reshape(3)
    np.testing.assert_allclose(got, [30 - 103.939, 20 - 116.779, 10 - 123.68], rtol=1e-5)


@pytest.mark.parametrize(("top", "peak"), [(0.7, 1.0), (16.0, 16.0), (200.0, 255.0)])
def test_pixel_range_is_read_from_train(top: float, peak: float) -> None:
    data = make_dataset("image", "binary", shape=(4, 4, 1))
    data.train.x[:] = np.abs(data.train.x) / np.abs(data.train.x).max() * top
    assert transfer.pixel_peak(data) == peak


def test_the_model_takes_raw_grayscale_pixels_and_freezes_its_backbone() -> None:
    data = make_dataset("image", "multiclass", shape=(8, 8, 1))
    built = models.build_builtin(family_cfg("transfer", dense_units=16), data, None)
    model = built.model
    assert model.name == "transfer" and tuple(model.input_shape[1:]) == (8, 8, 1)
    assert {"resize", "gray_to_rgb", "pool", "head_dense", "output"} <= {layer.name for layer in model.layers}
    assert model.predict(data.train.x[:2], verbose=0).shape == (2, 3)
    assert not transfer.backbone_of(model).trainable
    assert built.fine_tune is not None and built.fine_tune.head_epochs(10) == 10


@pytest.mark.parametrize(("weights", "frozen_norms"), [("imagenet", True), ("none", False)])
def test_fine_tuning_top_opens_the_last_layers_only(weights: str, frozen_norms: bool) -> None:
    keras = load_keras()
    data = make_dataset("image", "binary", shape=(8, 8, 3))
    cfg = family_cfg("transfer", fine_tune="top", fine_tune_layers=12, head_epochs=0.25,
                     fine_tune_learning_rate=3e-5)
    model = transfer.build(cfg, data)
    plan = transfer.fine_tuning(cfg, model, weights)
    assert (plan.head_epochs(8), plan.learning_rate) == (2, 3e-5)
    backbone = transfer.backbone_of(model)
    plan.unfreeze()
    opened = [layer for layer in backbone.layers if layer.trainable]
    assert opened and all(layer in backbone.layers[-12:] for layer in opened)
    norms = [layer for layer in backbone.layers[-12:] if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.trainable is not frozen_norms for layer in norms)


def test_fine_tuning_all_opens_every_layer_but_pretrained_batch_norm() -> None:
    keras = load_keras()
    cfg = family_cfg("transfer", fine_tune="all")
    model = transfer.build(cfg, make_dataset("image", "binary", shape=(8, 8, 3)))
    transfer.fine_tuning(cfg, model, "imagenet").unfreeze()
    for layer in transfer.backbone_of(model).layers:
        assert layer.trainable is not isinstance(layer, keras.layers.BatchNormalization), layer.name


def test_a_backbone_from_scratch_follows_its_batches_quickly() -> None:
    keras = load_keras()
    model = transfer.build(family_cfg("transfer"), make_dataset("image", "binary", shape=(8, 8, 3)))
    momenta = {layer.momentum for layer in transfer.backbone_of(model).layers
               if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {transfer.SCRATCH_MOMENTUM}


def test_a_weights_file_of_the_backbone_loads(tmp_path: Path) -> None:
    keras = load_keras()
    saved = keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3))
    saved.save_weights(tmp_path / "backbone.weights.h5")
    section = TransferSpec(family="transfer", weights="backbone.weights.h5", image_size=48)
    resources = models.resources_for(section, tmp_path)
    assert resources == {"weights": "backbone.weights.h5", "path": tmp_path / "backbone.weights.h5"}
    loaded = transfer.backbone_model(BACKBONES.get("mobilenet_v3_small"), 48, "backbone.weights.h5",
                                     resources["path"])
    for mine, theirs in zip(loaded.weights, saved.weights, strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_a_weights_file_of_another_backbone_names_both(tmp_path: Path) -> None:
    keras = load_keras()
    keras.applications.MobileNetV3Small(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(
        tmp_path / "small.weights.h5")
    section = TransferSpec(family="transfer", backbone="mobilenet_v2", weights="small.weights.h5", image_size=32)
    with pytest.raises(SpecError) as caught:
        models.resources_for(section, tmp_path)
    message = str(caught.value)
    assert message.startswith("model.weights: small.weights.h5 does not fit backbone mobilenet_v2 "
                              "(MobileNetV2 without its top): ")
    assert message.endswith(f"Received: model.weights={str(tmp_path / 'small.weights.h5')!r}")


def test_a_missing_weights_file_is_named(tmp_path: Path) -> None:
    section = TransferSpec(family="transfer", weights="gone.weights.h5")
    with pytest.raises(SpecError, match=r"^model.weights: no weights file at .*gone.weights.h5; .*"
                       r"Received: model.weights='gone.weights.h5'$"):
        models.resources_for(section, tmp_path)


def test_imagenet_weights_offline_and_uncached_name_the_file_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    section = TransferSpec(family="transfer", backbone="mobilenet_v3_small", image_size=32)
    with pytest.raises(SpecError) as caught:
        models.resources_for(section, tmp_path)
    assert str(caught.value) == (
        "model.weights: the ImageNet weights of mobilenet_v3_small are not in Keras's cache and could "
        "not be downloaded from https://storage.googleapis.com/tensorflow/keras-applications/"
        "mobilenet_v3/weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5. Put "
        f"weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5 in {tmp_path / 'keras' / 'models'} "
        "(download it on a machine that is online), or set model.weights to none or a weights file. "
        "Received: model.weights='imagenet'"
    )


def test_transfer_takes_images_in_one_or_three_channels() -> None:
    section = TransferSpec(family="transfer")
    with pytest.raises(SpecError, match="model.family transfer takes image data, but tiny is text data"):
        models.check_fits(section, make_dataset("text", "binary"))
    with pytest.raises(SpecError, match="takes grayscale or RGB images, but tiny has 2 channels"):
        models.check_fits(section, make_dataset("image", "binary"))
    assert models.check_fits(section, make_dataset("image", "binary", shape=(4, 4, 3))) is None


@pytest.mark.parametrize(
    ("fine_tune", "expected"),
    [
        ("frozen", set()),
        ("top", {"model.fine_tune_layers", "model.fine_tune_learning_rate", "model.head_epochs"}),
        ("all", {"model.fine_tune_learning_rate", "model.head_epochs"}),
    ],
)
def test_fine_tuning_settings_apply_only_when_the_backbone_fine_tunes(
    fine_tune: str, expected: set[str], write_spec: Any,
) -> None:
    from autodl.search.sampling import preview
    from autodl.spec.document import load_spec
    from tests.helpers import minimal_spec

    model = {"family": "transfer", "fine_tune": fine_tune, "fine_tune_layers": {"int": [5, 50]},
             "fine_tune_learning_rate": {"float": [1e-5, 1e-3], "scale": "log"},
             "head_epochs": {"float": [0.2, 0.8]}, "image_size": 32}
    spec = load_spec(write_spec(minimal_spec(model=model)))
    for sample in preview(spec, 3):
        assert {name for name in sample.params if name.startswith("model.")} - {
            "model.backbone", "model.fine_tune", "model.image_size", "model.dropout", "model.dense_units",
        } == expected


def test_validate_lists_the_backbones_on_a_typo_and_checks_the_size(write_spec: Any) -> None:
    from typer.testing import CliRunner

    from autodl.cli import app
    from tests.helpers import minimal_spec

    typo = write_spec(minimal_spec(model={"family": "transfer", "backbone": "mobilenet_v3_smal"}))
    result = CliRunner().invoke(app, ["validate", str(typo)])
    assert result.exit_code == 2
    assert "model.backbone: expected one of 'mobilenet', 'mobilenet_v2', " in result.output
    assert "did you mean 'mobilenet_v3_small'? Received: model.backbone='mobilenet_v3_smal'" in result.output
    small = write_spec(minimal_spec(model={"family": "transfer", "backbone": {"choice": ["mobilenet", "xception"]},
                                           "image_size": {"int": [48, 128]}}), "small.yaml")
    result = CliRunner().invoke(app, ["validate", str(small)])
    assert result.exit_code == 2
    assert ("image_size 48 is too small for backbone xception, which needs at least 71x71 pixels; raise "
            "image_size (the model resizes its inputs) or choose another backbone. Received: "
            "model.image_size=int [48, 128]") in " ".join(result.output.split())


def test_search_offline_without_cached_imagenet_weights_stops_before_training(
    project: Path, write_spec: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from autodl.cli import app
    from tests.helpers import minimal_spec

    monkeypatch.setenv("KERAS_HOME", str(project / "keras"))
    spec = write_spec(minimal_spec(name="offline", model={"family": "transfer", "image_size": 32},
                                   training={"epochs": 1}, search={"trials": 1}))
    result = CliRunner().invoke(app, ["search", str(spec), "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: model.weights: the ImageNet weights of mobilenet_v3_small are "
                                    "not in Keras's cache")
    assert "Downloading" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (project / "best_model" / "offline").exists()
