"""Transfer family: a ``keras.applications`` backbone, pretrained or not, under a new head.

The model takes the same raw pixels as the other families: resizing to ``image_size``, grayscale
to three channels and the backbone's own input scaling are layers of the saved model. A pretrained
backbone runs in inference mode (its BatchNorm statistics stay as trained); the head trains first
with the backbone frozen, and ``fine_tune: top`` / ``all`` then unfreezes its last layers for the
rest of the epochs at ``fine_tune_learning_rate`` (``FineTune``, run by the trial).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from autodl.data import feed
from autodl.data.dataset import Dataset
from autodl.errors import SpecError
from autodl.models.base import FineTune
from autodl.models.blocks import output_head
from autodl.runtime.backend import load_keras
from autodl.runtime.log import logger
from autodl.spec import space
from autodl.spec.backbones import BACKBONES, WEIGHTS_CHOICES, Backbone

DATA_KINDS = ("image",)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
SCRATCH_MOMENTUM = 0.9
PIXEL_PEAKS = (1.0, 16.0)
"""Pixel ranges below 0-255 that are scaled up first: 0-1 floats, and the built-in digits' 0-16."""


def check(section: Any, data: Dataset) -> None:
    """Grayscale or RGB images only: the backbones take three channels."""
    channels = data.input_shape[-1]
    if channels not in (1, 3):
        raise SpecError(
            f"model.family transfer takes grayscale or RGB images, but {data.name} has {channels} "
            f"channels; set data.color_mode to rgb or grayscale. Received: model.family='transfer'"
        )


def weights_file(section: Any, base_dir: Path) -> Path | None:
    """The weights file ``model.weights`` names, resolved against the spec's folder; ``None`` for
    imagenet or none. A missing file is an error before any training."""
    if section.weights in WEIGHTS_CHOICES:
        return None
    path = Path(section.weights)
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise SpecError(f"model.weights: no weights file at {path}; give a path (relative to the spec "
                        f"file) to weights saved from the backbone, or imagenet or none. "
                        f"Received: model.weights={section.weights!r}")
    return path


def backbone_model(entry: Backbone, size: int, weights: str, path: Path | None) -> Any:
    """The backbone without its top for ``size`` x ``size`` RGB inputs, with its weights loaded:
    ImageNet's (from Keras's cache or a download), a file's, or none."""
    keras = load_keras()
    make = getattr(keras.applications, entry.keras_name)
    with warnings.catch_warnings():  # MobileNets: ImageNet weights of the 224 model at other sizes
        warnings.filterwarnings("ignore", message=".*will be loaded as the default")
        model = make(include_top=False, weights="imagenet" if weights == "imagenet" else None,
                     input_shape=(size, size, 3))
    if path is not None:
        try:
            with warnings.catch_warnings():  # a file that does not fit warns for every layer first
                warnings.simplefilter("ignore")
                model.load_weights(str(path))
        except Exception as error:  # Keras raises ValueError, KeyError or h5py errors for a mismatch
            raise SpecError(
                f"model.weights: {path.name} does not fit backbone {entry.name} ({entry.keras_name} "
                f"without its top): {first_words(error)}. Save the weights of the same backbone "
                f"(include_top=False) with save_weights. Received: model.weights={str(path)!r}"
            ) from None
    return model


def first_words(error: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, cut to ``limit`` characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def imagenet_missing(error: BaseException) -> tuple[str, str] | None:
    """The address and file name Keras tried to download, when ``error`` is its failed fetch of
    ImageNet weights."""
    found = re.search(r"(https?://\S+?/([^/\s]+\.h5))", str(error))
    return (found.group(1), found.group(2)) if found else None


def check_weights(section: Any, path: Path | None) -> None:
    """Before any training: every backbone the space allows builds with its weights (``path``, the
    resolved ``weights_file``). ImageNet weights that are neither cached nor downloadable, and a
    file that does not fit, are errors."""
    keras = load_keras()
    if section.weights == "none":
        return
    size = min(space.candidates(section.image_size))
    for name in space.candidates(section.backbone):
        entry = BACKBONES.get(name)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):  # Keras's download notice and progress bar
                backbone_model(entry, size, section.weights, path)
            if "Downloading" in printed.getvalue():
                logger.info("Downloaded the ImageNet weights of %s into %s", name, keras_cache())
        except SpecError:
            raise
        except Exception as error:
            missing = imagenet_missing(error) if section.weights == "imagenet" else None
            if missing is None:
                raise
            address, file = missing
            raise SpecError(
                f"model.weights: the ImageNet weights of {name} are not in Keras's cache and could not "
                f"be downloaded from {address}. Put {file} in {keras_cache()} (download it on a "
                f"machine that is online), or set model.weights to none or a weights file. "
                f"Received: model.weights='imagenet'"
            ) from None
        finally:
            keras.utils.clear_session()


def keras_cache() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models``, else ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or str(Path("~/.keras").expanduser())
    return Path(home) / "models"


def pixel_peak(data: Dataset) -> float:
    """The top of the training pixels' range: 1, 16 (the built-in digits) or 255."""
    sample = feed.adapt_data(data.train)
    if isinstance(sample, np.ndarray):
        top = float(sample.max()) if sample.size else 255.0
    else:
        top = max(float(np.max(batch)) for batch in sample.take(4).as_numpy_iterator())
    return next((peak for peak in PIXEL_PEAKS if top <= peak), 255.0)


def scaled_input(x: Any, entry: Backbone, peak: float) -> Any:
    """Raw pixels (0..peak) to what ``entry`` expects, as layers of the model."""
    keras = load_keras()
    layers = keras.layers
    if peak != 255.0:
        x = layers.Rescaling(255.0 / peak, name="to_255")(x)
    if entry.preprocessing == "tf":
        return layers.Rescaling(1 / 127.5, offset=-1.0, name="to_unit_range")(x)
    if entry.preprocessing == "torch":
        x = layers.Rescaling(1 / 255.0, name="to_0_1")(x)
        return layers.Normalization(mean=list(IMAGENET_MEAN), variance=[s**2 for s in IMAGENET_STD],
                                    name="imagenet_normalization")(x)
    if entry.preprocessing == "caffe":
        flip = layers.Conv2D(3, 1, trainable=False, name="rgb_to_bgr_centered")
        y = flip(x)
        kernel = np.zeros((1, 1, 3, 3), dtype="float32")
        for channel in range(3):
            kernel[0, 0, 2 - channel, channel] = 1.0
        flip.set_weights([kernel, -np.asarray(CAFFE_MEAN_BGR, dtype="float32")])
        return y
    return x


def build(cfg: dict[str, Any], data: Dataset, weights: str = "none", path: Path | None = None) -> Any:
    """An uncompiled transfer model for one sampled configuration, its backbone frozen."""
    keras = load_keras()
    layers = keras.layers
    entry = BACKBONES.get(cfg["backbone"])
    size = cfg["image_size"]
    inputs = keras.Input(shape=data.input_shape, name="inputs")
    x = layers.Resizing(size, size, name="resize")(inputs)
    if data.input_shape[-1] == 1:
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    x = scaled_input(x, entry, pixel_peak(data))
    backbone = backbone_model(entry, size, weights, path)
    backbone.trainable = False
    if weights == "none":
        follow_quickly(backbone)
        x = backbone(x)
    else:  # pretrained BatchNorm statistics stay as they are
        x = backbone(x, training=False)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if cfg["dense_units"] > 0:
        x = layers.Dense(cfg["dense_units"], activation="relu", name="head_dense")(x)
    if cfg["dropout"] > 0:
        x = layers.Dropout(cfg["dropout"], name="head_dropout")(x)
    return keras.Model(inputs, output_head(x, data), name="transfer")


def follow_quickly(backbone: Any) -> None:
    """A backbone trained from scratch: its BatchNorm moving statistics follow the batches at
    momentum ``SCRATCH_MOMENTUM`` instead of the ImageNet recipes' 0.99-0.999, which would leave
    them near their initial values for the few thousand steps of a trial (dev scores at chance)."""
    keras = load_keras()
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = SCRATCH_MOMENTUM


def backbone_of(model: Any) -> Any:
    """The backbone inside a transfer model: its one nested model."""
    keras = load_keras()
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def fine_tuning(cfg: dict[str, Any], model: Any, weights: str = "none") -> FineTune:
    """The second phase of ``cfg``: which backbone layers it unfreezes (pretrained BatchNorm stays
    frozen and in inference mode) and at what rate; ``frozen`` trains the head alone throughout."""
    if cfg["fine_tune"] == "frozen":
        return FineTune(head_share=1.0, learning_rate=0.0, unfreeze=lambda: None)
    keras = load_keras()
    backbone = backbone_of(model)
    chosen = backbone.layers if cfg["fine_tune"] == "all" else backbone.layers[-cfg["fine_tune_layers"]:]

    def unfreeze() -> None:
        backbone.trainable = True
        opened = {id(layer) for layer in chosen}
        for layer in backbone.layers:
            batch_norm = weights != "none" and isinstance(layer, keras.layers.BatchNormalization)
            layer.trainable = id(layer) in opened and not batch_norm

    return FineTune(head_share=cfg["head_epochs"], learning_rate=cfg["fine_tune_learning_rate"],
                    unfreeze=unfreeze)


def resources(section: Any, base_dir: Path) -> dict[str, Any]:
    """What every trial's build takes besides its configuration: the weights, checked once, here,
    before any training."""
    path = weights_file(section, base_dir)
    check_weights(section, path)
    return {"weights": section.weights, "path": path}
