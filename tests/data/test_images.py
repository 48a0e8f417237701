"""Image folders read with Pillow: labels, groups, resizing, colour modes and clear errors."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from autodl.data.images import read_image_folder
from autodl.errors import DataError
from tests.helpers import COLOURS, write_image


def test_reads_one_class_per_subfolder(pets: Path) -> None:
    raw = read_image_folder(pets, None, "rgb")
    assert (raw.name, raw.kind) == ("pets", "image")
    assert raw.x.shape == (12, 4, 6, 3)
    assert raw.x.dtype == np.float32
    assert list(raw.labels) == ["cat"] * 4 + ["dog"] * 4 + ["fox"] * 4
    assert list(raw.groups[:5]) == [
        "cat/000.png", "cat/001.png", "cat/002.png", "cat/003.png", "dog/000.png"
    ]


def test_pixels_are_raw_values_per_class(pets: Path) -> None:
    raw = read_image_folder(pets, None, "rgb")
    for image, label in zip(raw.x, raw.labels, strict=True):
        assert np.all(image == np.array(COLOURS[str(label)], dtype="float32"))


def test_resizes_to_image_size(pets: Path) -> None:
    raw = read_image_folder(pets, (8, 5), "rgb")
    assert raw.x.shape == (12, 8, 5, 3)
    assert np.all(raw.x[0] == np.array(COLOURS["cat"], dtype="float32"))


def test_grayscale_has_one_channel(pets: Path) -> None:
    raw = read_image_folder(pets, None, "grayscale")
    assert raw.x.shape == (12, 4, 6, 1)
    assert raw.x[0, 0, 0, 0] == pytest.approx(76, abs=1)  # ITU-R 601 luma of pure red


@pytest.mark.parametrize("suffix", [".png", ".PNG", ".jpg", ".jpeg", ".JPEG", ".bmp", ".gif"])
def test_reads_every_supported_suffix(tmp_path: Path, suffix: str) -> None:
    for name in ("a", "b"):
        write_image(tmp_path / "set" / name / f"img{suffix}")
    raw = read_image_folder(tmp_path / "set", None, "rgb")
    assert raw.x.shape == (2, 4, 6, 3)
    assert list(raw.groups) == [f"a/img{suffix}", f"b/img{suffix}"]


def test_ignores_other_and_hidden_files_and_folders(pets: Path) -> None:
    (pets / "README.md").write_text("about the pets")
    (pets / "cat" / "notes.txt").write_text("not an image")
    (pets / "cat" / ".hidden.png").write_bytes(b"not an image")
    write_image(pets / ".cache" / "000.png")
    raw = read_image_folder(pets, None, "rgb")
    assert len(raw.x) == 12
    assert set(raw.labels) == {"cat", "dog", "fox"}


def test_files_are_sorted_by_name(tmp_path: Path) -> None:
    for name in ("b.png", "a.png", "c.png"):
        write_image(tmp_path / "set" / "x" / name)
    write_image(tmp_path / "set" / "y" / "z.png")
    raw = read_image_folder(tmp_path / "set", None, "rgb")
    assert list(raw.groups) == ["x/a.png", "x/b.png", "x/c.png", "y/z.png"]


def test_empty_class_folder_is_skipped_with_a_note(
    pets: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (pets / "owl").mkdir()
    (pets / "owl" / "notes.txt").write_text("no pictures yet")
    with caplog.at_level(logging.INFO, logger="autodl"):
        raw = read_image_folder(pets, None, "rgb")
    assert "owl" not in set(raw.labels)
    assert f"skipping {pets / 'owl'}: it holds no images" in caplog.messages


def test_folder_without_class_subfolders_is_an_error(tmp_path: Path) -> None:
    write_image(tmp_path / "flat" / "000.png")
    with pytest.raises(DataError) as info:
        read_image_folder(tmp_path / "flat", None, "rgb")
    assert str(info.value) == (
        f"{tmp_path / 'flat'}: found no images in class subfolders; expected one subfolder per "
        f"class holding .png, .jpg, .jpeg, .bmp, .gif files "
        f"(e.g. {tmp_path / 'flat' / 'cat' / '001.png'})."
    )


def test_a_file_instead_of_a_folder_is_an_error(tmp_path: Path) -> None:
    file = write_image(tmp_path / "one.png")
    with pytest.raises(DataError) as info:
        read_image_folder(file, None, "rgb")
    assert str(info.value) == (
        f"{file}: not a folder; expected one subfolder per class holding "
        ".png, .jpg, .jpeg, .bmp, .gif files."
    )


def test_a_single_class_is_an_error(tmp_path: Path) -> None:
    write_image(tmp_path / "set" / "cat" / "000.png")
    (tmp_path / "set" / "dog").mkdir()
    with pytest.raises(DataError) as info:
        read_image_folder(tmp_path / "set", None, "rgb")
    assert str(info.value) == (
        f"{tmp_path / 'set'}: found images for only one class ('cat'); a classifier needs at "
        "least two, so add a subfolder of images for each other class."
    )


def test_mixed_sizes_without_image_size_is_an_error(pets: Path) -> None:
    odd = write_image(pets / "dog" / "004.png", size=(5, 7))
    with pytest.raises(DataError) as info:
        read_image_folder(pets, None, "rgb")
    assert str(info.value) == (
        f"{odd}: this image is 5x7 (height x width) but {pets / 'cat' / '000.png'} is 4x6; "
        "set data.image_size to resize all images to one size."
    )


def test_mixed_sizes_with_image_size_are_resized(pets: Path) -> None:
    write_image(pets / "dog" / "004.png", size=(5, 7))
    assert read_image_folder(pets, (4, 6), "rgb").x.shape == (13, 4, 6, 3)


def test_corrupt_image_names_the_file(pets: Path) -> None:
    bad = pets / "dog" / "002.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError) as info:
        read_image_folder(pets, None, "rgb")
    assert str(info.value) == (
        f"{bad}: cannot read this image (not a recognised image format); remove or replace it."
    )


def test_truncated_image_names_the_file(pets: Path) -> None:
    bad = pets / "fox" / "001.png"
    bad.write_bytes(bad.read_bytes()[:50])
    with pytest.raises(DataError) as info:
        read_image_folder(pets, None, "rgb")
    assert str(info.value) == (
        f"{bad}: cannot read this image (image file is truncated); remove or replace it."
    )


def test_unknown_color_mode_is_an_error(pets: Path) -> None:
    with pytest.raises(DataError) as info:
        read_image_folder(pets, None, "cmyk")
    assert str(info.value) == (
        "Unknown data.color_mode 'cmyk'; expected 'rgb' or 'grayscale'."
    )
