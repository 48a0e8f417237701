"""``.npz`` files: array names, the kind each shape of x gives, labels, and clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from autodl.data.arrays import read_npz
from autodl.errors import DataError

SAVE_HINT = "save the data with np.savez(path, x=x, y=y)."


def save(path: Path, **arrays: np.ndarray) -> Path:
    """Save ``arrays`` to the .npz file ``path`` under their keyword names."""
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("shape", "kind"),
    [((6, 3), "tabular"), ((6, 5, 2), "sequence"), ((6, 4, 4, 3), "image")],
)
def test_kind_follows_the_rank_of_x(tmp_path: Path, shape: tuple[int, ...], kind: str) -> None:
    x = np.arange(np.prod(shape)).reshape(shape)
    raw = read_npz(save(tmp_path / "data.npz", x=x, y=np.arange(6) % 2))
    assert (raw.name, raw.kind) == ("data", kind)
    assert raw.x.shape == shape
    assert raw.x.dtype == np.float32
    np.testing.assert_array_equal(raw.x, x)
    np.testing.assert_array_equal(raw.labels, [0, 1, 0, 1, 0, 1])
    assert raw.groups.size == 0


def test_uint8_images_become_float32(tmp_path: Path) -> None:
    x = np.full((2, 3, 3, 1), 255, dtype=np.uint8)
    raw = read_npz(save(tmp_path / "img.npz", x=x, y=np.array([0, 1])))
    assert raw.kind == "image"
    assert raw.x.dtype == np.float32
    assert np.all(raw.x == 255.0)


def test_string_x_is_text(tmp_path: Path) -> None:
    texts = np.array(["good film", "bad film", "fine"], dtype=str)
    raw = read_npz(save(tmp_path / "reviews.npz", x=texts, y=np.array(["pos", "neg", "pos"])))
    assert raw.kind == "text"
    assert raw.x.dtype == object
    assert list(raw.x) == ["good film", "bad film", "fine"]
    assert all(type(t) is str for t in raw.x)
    assert list(raw.labels) == ["pos", "neg", "pos"]


@pytest.mark.parametrize("labels", [np.array([1.5, 2.0]), np.array(["a", "b"]), np.array([3, 4])])
def test_labels_are_kept_as_read(tmp_path: Path, labels: np.ndarray) -> None:
    raw = read_npz(save(tmp_path / "d.npz", x=np.zeros((2, 2)), y=labels))
    np.testing.assert_array_equal(raw.labels, labels)
    assert raw.labels.dtype == labels.dtype


@pytest.mark.parametrize(("x_name", "y_name"), [("X", "Y"), ("inputs", "labels")])
def test_other_array_names(tmp_path: Path, x_name: str, y_name: str) -> None:
    path = save(tmp_path / "d.npz", **{x_name: np.zeros((3, 2)), y_name: np.array([0, 1, 0])})
    raw = read_npz(path)
    assert raw.x.shape == (3, 2)
    assert list(raw.labels) == [0, 1, 0]


def test_column_labels_are_flattened(tmp_path: Path) -> None:
    raw = read_npz(save(tmp_path / "d.npz", x=np.zeros((3, 2)), y=np.array([[0], [1], [2]])))
    assert raw.labels.shape == (3,)
    assert list(raw.labels) == [0, 1, 2]


def test_not_an_npz_file(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(DataError) as info:
        read_npz(path)
    assert str(info.value) == f"{path}: not an .npz file (not a zip archive); {SAVE_HINT}"


def test_an_npy_file_is_not_an_npz_file(tmp_path: Path) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(DataError, match="not an .npz file"):
        read_npz(path)


def test_missing_y_lists_the_arrays_found(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz", x=np.zeros((2, 2)), target=np.zeros(2))
    with pytest.raises(DataError) as info:
        read_npz(path)
    assert str(info.value) == (
        f"{path}: expected arrays 'x' and 'y' (or 'X'/'Y', 'inputs'/'labels') but found "
        f"'x', 'target'; {SAVE_HINT}"
    )


def test_empty_npz_lists_no_arrays(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz")
    with pytest.raises(DataError) as info:
        read_npz(path)
    assert str(info.value) == (
        f"{path}: expected arrays 'x' and 'y' (or 'X'/'Y', 'inputs'/'labels') but found "
        f"none; {SAVE_HINT}"
    )


def test_mismatched_lengths(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz", x=np.zeros((5, 2)), y=np.zeros(4))
    with pytest.raises(DataError) as info:
        read_npz(path)
    assert str(info.value) == f"{path}: x has 5 examples but y has 4 labels; they must match."


def test_non_numeric_x(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz", x=np.array([["a", "b"], ["c", "d"]]), y=np.array([0, 1]))
    with pytest.raises(DataError) as info:
        read_npz(path)
    assert str(info.value) == (
        f"{path}: x has dtype <U1; expected numbers, or a 1-D array of strings for text."
    )


@pytest.mark.parametrize("shape", [(4,), (2, 2, 2, 2, 2)])
def test_unsupported_rank_of_x(tmp_path: Path, shape: tuple[int, ...]) -> None:
    path = save(tmp_path / "d.npz", x=np.zeros(shape), y=np.zeros(shape[0]))
    with pytest.raises(DataError) as info:
        read_npz(path)
    assert str(info.value) == (
        f"{path}: x has shape {shape}; expected (n, features) for tabular data, "
        "(n, time, features) for sequences or (n, height, width, channels) for images."
    )


@pytest.mark.parametrize("shape", [(5, 0), (5, 0, 3), (5, 8, 8, 0)], ids=["no-columns", "no-steps", "no-channels"])
def test_an_x_whose_examples_hold_no_values_is_refused(tmp_path: Path, shape: tuple[int, ...]) -> None:
    """Such arrays would reach the first trial, where Keras aborts the whole process (oneDNN) or
    fails every trial."""
    path = save(tmp_path / "d.npz", x=np.zeros(shape), y=np.zeros(shape[0]))
    with pytest.raises(DataError) as info:
        read_npz(path)
    assert str(info.value) == (
        f"{path}: x has an empty axis (each example holds no values); save every example with at least one "
        f"feature (time step, pixel, channel). Received: x.shape={shape}"
    )


def test_multi_column_y(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz", x=np.zeros((3, 2)), y=np.zeros((3, 2)))
    with pytest.raises(DataError) as info:
        read_npz(path)
    assert str(info.value) == (
        f"{path}: y has shape (3, 2); expected one label per example, shape (n,) or (n, 1)."
    )


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    texts = np.array(["good", "bad"], dtype=object)
    path = save(tmp_path / "d.npz", x=texts, y=np.array([1, 0]))
    with pytest.raises(DataError) as info:
        read_npz(path)
    assert str(info.value) == (
        f"{path}: array 'x' holds Python objects, which need allow_pickle, and autodl refuses "
        "to unpickle files for safety; save strings as a unicode array "
        "(np.array(texts, dtype=str))."
    )


def test_a_member_that_is_not_an_array(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz", x=np.zeros((2, 2)))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("y.npy", b"garbage")
    with pytest.raises(DataError) as info:
        read_npz(path)
    assert str(info.value) == (
        f"{path}: cannot read array 'y' (not a NumPy array); save the data again with "
        "np.savez(path, x=x, y=y)."
    )


def test_a_member_with_a_broken_header(tmp_path: Path) -> None:
    path = save(tmp_path / "d.npz", x=np.zeros((2, 2)))
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("y.npy", b"\x93NUMPY\x09\x00garbage")
    with pytest.raises(DataError) as info:
        read_npz(path)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read array 'y' (")
    assert message.endswith("); save the data again with np.savez(path, x=x, y=y).")
