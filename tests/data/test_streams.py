"""Streaming image folders and CSV tables through tf.data: only references in memory, the same
examples as reading them whole, and the same clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autodl.data import streams
from autodl.data.images import read_image_folder
from autodl.data.tables import read_table
from autodl.errors import DataError
from tests.helpers import digits_csv, write_image


def test_auto_streams_only_above_one_gibibyte() -> None:
    assert not streams.should_stream("auto", 1 << 30)
    assert streams.should_stream("auto", (1 << 30) + 1)
    assert streams.should_stream(True, 10) and not streams.should_stream(False, 1 << 40)


def test_a_streamed_folder_holds_paths_and_reads_the_same_pixels(pets: Path) -> None:
    whole = read_image_folder(pets, None, "rgb")
    streamed = read_image_folder(pets, None, "rgb", stream=True)
    assert streamed.x.dtype.kind == "U" and streamed.x[0].endswith("cat/000.png")
    assert streamed.stream is not None and streamed.stream.shape == (4, 6, 3)
    assert list(streamed.labels) == list(whole.labels) and list(streamed.groups) == list(whole.groups)
    np.testing.assert_array_equal(streamed.stream.read(streamed.x), whole.x)


def test_a_streamed_folder_resizes_like_image_size(pets: Path) -> None:
    streamed = read_image_folder(pets, (8, 12), "grayscale", stream=True)
    pixels = streamed.stream.read(streamed.x[:2])
    assert pixels.shape == (2, 8, 12, 1) and pixels.dtype == np.float32


def test_streamed_folder_errors_name_the_file_before_training(pets: Path) -> None:
    bad = pets / "dog" / "002.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError, match=rf"^{bad}: cannot read this image \(not a recognised image format\)"):
        read_image_folder(pets, (4, 6), "rgb", stream=True)
    bad.unlink()
    odd = write_image(pets / "fox" / "009.png", size=(5, 5))
    with pytest.raises(DataError, match=rf"^{odd}: this image is 5x5 \(height x width\) but .* set data.image_size"):
        read_image_folder(pets, None, "rgb", stream=True)


def test_a_streamed_csv_reads_the_same_rows_as_pandas(tmp_path: Path) -> None:
    path = digits_csv(tmp_path / "digits.csv", rows=300)
    whole = read_table(path, None, None, None)
    streamed = read_table(path, None, None, None, stream=True)
    assert streamed.kind == "tabular" and list(streamed.x) == list(range(300))
    assert list(streamed.labels) == list(whole.labels)
    rows = np.array([0, 5, 299])
    np.testing.assert_array_equal(streamed.stream.read(rows), whole.x[rows])


def test_a_streamed_text_column(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text('text,label\n"good, really",pos\nbad,neg\n"fine",pos\n')
    raw = read_table(path, None, None, "text", stream=True)
    assert raw.kind == "text" and list(raw.labels) == ["pos", "neg", "pos"]
    assert list(raw.stream.read(np.array([0, 2]))) == ["good, really", "fine"]
