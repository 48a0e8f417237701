"""Image folders on disk: one subfolder per class, decoded with Pillow into raw pixel arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from autodl.data.dataset import RawData
from autodl.data.streams import ImageStream, image_header, should_stream
from autodl.errors import DataError
from autodl.runtime.log import logger

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
PIL_MODES = {"rgb": "RGB", "grayscale": "L"}


def _visible(entries: list[Path]) -> list[Path]:
    """``entries`` without hidden names (``.DS_Store``, ``.git``), sorted for determinism."""
    return sorted(p for p in entries if not p.name.startswith("."))


def _class_files(path: Path) -> dict[str, list[Path]]:
    """Image files of each class subfolder; empty class folders are skipped with a note."""
    classes: dict[str, list[Path]] = {}
    for folder in _visible([p for p in path.iterdir() if p.is_dir()]):
        files = [
            p
            for p in _visible(list(folder.iterdir()))
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        ]
        if files:
            classes[folder.name] = files
        else:
            logger.info("skipping %s: it holds no images", folder)
    return classes


def _check_classes(path: Path, classes: dict[str, list[Path]]) -> None:
    """Raise ``DataError`` unless at least two classes have images."""
    if not classes:
        raise DataError(
            f"{path}: found no images in class subfolders; expected one subfolder per class "
            f"holding {', '.join(IMAGE_SUFFIXES)} files (e.g. {path / 'cat' / '001.png'})."
        )
    if len(classes) < 2:
        raise DataError(
            f"{path}: found images for only one class ({next(iter(classes))!r}); a classifier "
            "needs at least two, so add a subfolder of images for each other class."
        )


def decode_image(file: Path, mode: str, image_size: tuple[int, int] | None) -> np.ndarray:
    """One image as a float32 ``(height, width, channels)`` array of 0..255 values."""
    import PIL.Image

    try:
        with PIL.Image.open(file) as opened:
            image = opened.convert(mode)
    except PIL.UnidentifiedImageError:
        raise DataError(
            f"{file}: cannot read this image (not a recognised image format); remove or replace it."
        ) from None
    except OSError as exc:
        raise DataError(f"{file}: cannot read this image ({exc}); remove or replace it.") from exc
    if image_size is not None:
        height, width = image_size
        image = image.resize((width, height), PIL.Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype="float32")
    return pixels[..., np.newaxis] if pixels.ndim == 2 else pixels


def _check_same_size(images: list[np.ndarray], files: list[Path]) -> None:
    """Without ``image_size`` every image must have the first one's height and width."""
    first = images[0].shape[:2]
    for image, file in zip(images, files, strict=True):
        if image.shape[:2] != first:
            raise DataError(
                f"{file}: this image is {image.shape[0]}x{image.shape[1]} (height x width) but "
                f"{files[0]} is {first[0]}x{first[1]}; set data.image_size to resize all images "
                "to one size."
            )


def read_image_folder(
    path: Path, image_size: tuple[int, int] | None, color_mode: str, stream: bool | str = False
) -> RawData:
    """All images under ``path/<class>/``: labels are the class names and groups the files'
    paths relative to ``path`` (so error analysis can point at a file).

    A folder streamed through tf.data (``data.stream``) keeps only the paths in memory; every
    file's header is checked here, and its pixels are decoded while trials train.
    """
    if color_mode not in PIL_MODES:
        raise DataError(
            f"Unknown data.color_mode {color_mode!r}; expected 'rgb' or 'grayscale'."
        )
    if not path.is_dir():
        raise DataError(
            f"{path}: not a folder; expected one subfolder per class holding "
            f"{', '.join(IMAGE_SUFFIXES)} files."
        )
    classes = _class_files(path)
    _check_classes(path, classes)
    files = [file for class_files in classes.values() for file in class_files]
    labels = np.array([name for name, class_files in classes.items() for _ in class_files])
    groups = np.array([file.relative_to(path).as_posix() for file in files])
    mode = PIL_MODES[color_mode]
    first = image_header(files[0], mode)
    height, width = image_size or first[:2]
    if should_stream(stream, len(files) * height * width * first[2] * 4):
        if image_size is None:
            _check_same_header(files, first, mode)
        else:
            for file in files:
                image_header(file, mode)
        logger.info("streaming %d images from %s through tf.data", len(files), path)
        shape = (height, width, first[2])
        paths = np.array([str(file) for file in files])
        return RawData(path.name, "image", paths, labels, groups,
                       ImageStream(shape, resize=image_size is not None))
    images = [decode_image(file, mode, image_size) for file in files]
    if image_size is None:
        _check_same_size(images, files)
    return RawData(path.name, "image", np.stack(images), labels, groups)


def _check_same_header(files: list[Path], first: tuple[int, int, int], mode: str) -> None:
    """Without ``image_size`` every streamed image must have the first one's size."""
    for file in files:
        height, width, _ = image_header(file, mode)
        if (height, width) != first[:2]:
            raise DataError(
                f"{file}: this image is {height}x{width} (height x width) but {files[0]} is "
                f"{first[0]}x{first[1]}; set data.image_size to resize all images to one size."
            )
