"""``autodl.data`` itself: labels encoded into a task and its classes, and ``load_dataset`` from a
spec's data section (digits, text folders, the shared sentences, regression targets)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autodl.data import encode_labels, load_dataset
from autodl.errors import DataError
from autodl.spec.sections import DataSpec, SplitSpec
from tests.helpers import SENTENCES, write_lines


def test_zero_one_labels_are_binary() -> None:
    task, y, names = encode_labels(np.array(["1", "0", "0", "1"]), "auto", "src")
    assert (task, names) == ("binary", ("0", "1"))
    assert y.tolist() == [1, 0, 0, 1] and y.dtype == np.int64


def test_string_labels_sort_alphabetically_and_map_back() -> None:
    labels = np.array(["pear", "apple", "fig", "apple", "pear"])
    task, y, names = encode_labels(labels, "auto", "src")
    assert (task, names) == ("multiclass", ("apple", "fig", "pear"))
    assert y.tolist() == [2, 0, 1, 0, 2]
    assert [names[i] for i in y] == labels.tolist()


def test_numeric_labels_sort_numerically() -> None:
    labels = np.array(["2", "10", "1", "2"])
    task, y, names = encode_labels(labels, "auto", "src")
    assert (task, names) == ("multiclass", ("1", "2", "10"))
    assert y.tolist() == [1, 2, 0, 1]
    assert [names[i] for i in y] == labels.tolist()


def test_whole_numbers_written_as_floats_stay_classes() -> None:
    task, y, names = encode_labels(np.array(["1.0", "2.0", "1.0"]), "auto", "src")
    assert (task, names, y.tolist()) == ("binary", ("1", "2"), [0, 1, 0])


def test_non_integer_numbers_are_regression() -> None:
    task, y, names = encode_labels(np.array(["0.5", "2", "-1.25"]), "auto", "src")
    assert (task, names) == ("regression", ())
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, np.array([0.5, 2.0, -1.25], dtype="float32"))


def test_explicit_regression_keeps_integer_labels_as_numbers() -> None:
    task, y, names = encode_labels(np.array(["3", "1", "2"]), "regression", "src")
    assert (task, names, y.tolist()) == ("regression", (), [3.0, 1.0, 2.0])


def test_single_class_is_an_error() -> None:
    with pytest.raises(DataError) as caught:
        encode_labels(np.array(["1", "1", "1"]), "auto", "src")
    assert str(caught.value) == (
        "src: the labels have a single class ('1'); a classifier needs at least two."
    )


def test_binary_task_with_three_classes_is_an_error() -> None:
    with pytest.raises(DataError) as caught:
        encode_labels(np.array(["a", "b", "c"]), "binary", "src")
    assert str(caught.value) == (
        "src: data.task is binary but the labels have 3 classes. Use task: multiclass or auto."
    )


def test_regression_with_text_labels_is_an_error() -> None:
    with pytest.raises(DataError) as caught:
        encode_labels(np.array(["good", "bad"]), "regression", "src")
    assert str(caught.value) == (
        "src: data.task is regression but the labels are not all numbers (e.g. 'good')."
    )


def test_integer_labels_written_as_floats_are_one_class() -> None:
    task, y, names = encode_labels(np.array(["1", "1.0", "2", "2.0"]), "auto", "src")
    assert (task, names, y.tolist()) == ("binary", ("1", "2"), [0, 0, 1, 1])


def test_mixed_label_types_are_an_error() -> None:
    with pytest.raises(DataError) as caught:
        encode_labels(np.array(["1", "2", "cat", "1"]), "auto", "src")
    assert str(caught.value) == (
        "src: mixed label types: 2 label value(s) are numbers (e.g. '1') and 1 are text "
        "(e.g. 'cat'). Make every label the same kind."
    )


def test_load_digits_with_the_default_split(tmp_path: Path) -> None:
    data = load_dataset(DataSpec(source="digits"), tmp_path, seed=0)
    assert data.sizes() == {"train": 1257, "train_dev": 180, "dev": 180, "test": 180}
    assert (data.name, data.kind, data.task) == ("digits", "image", "multiclass")
    assert data.input_shape == (8, 8, 1)
    assert data.class_names == tuple(str(i) for i in range(10)) and data.num_classes == 10
    assert data.train.x.dtype == np.float32
    balance = data.class_balance()
    assert list(balance) == list(data.class_names)
    assert sum(balance.values()) == pytest.approx(1.0)
    assert all(0.08 < share < 0.12 for share in balance.values())


def test_load_digits_with_a_custom_split(tmp_path: Path) -> None:
    spec = DataSpec(source="digits", split=SplitSpec(train=0.8, train_dev=0.0, dev=0.2, test=0.0))
    data = load_dataset(spec, tmp_path, seed=3)
    assert data.sizes() == {"train": 1437, "train_dev": 0, "dev": 360, "test": 0}


def test_load_text_folder_relative_to_the_spec(tmp_path: Path) -> None:
    lines = [f"review number {i}\t{'pos' if i % 2 else 'neg'}" for i in range(40)]
    write_lines(tmp_path / "reviews" / "part.tsv", *lines)
    data = load_dataset(DataSpec(source="reviews"), tmp_path, seed=0)
    assert (data.name, data.kind, data.task, data.class_names) == (
        "reviews", "text", "binary", ("neg", "pos"),
    )
    assert data.sizes() == {"train": 28, "train_dev": 4, "dev": 4, "test": 4}
    assert data.class_balance() == {"neg": 0.5, "pos": 0.5}
    for split in data.splits.values():
        for text, label in zip(split.x, split.y, strict=True):
            number = int(text.rsplit(" ", 1)[1])
            assert data.class_names[label] == ("pos" if number % 2 else "neg")


def test_load_sentences_folder(tmp_path: Path) -> None:
    data = load_dataset(DataSpec(source=str(SENTENCES), task="binary"), tmp_path, seed=0)
    assert data.sizes() == {"train": 2100, "train_dev": 300, "dev": 300, "test": 300}
    assert (data.kind, data.task, data.class_names) == ("text", "binary", ("0", "1"))
    assert data.class_balance() == {"0": 0.5, "1": 0.5}


def test_regression_dataset_has_no_class_balance(tmp_path: Path) -> None:
    write_lines(tmp_path / "scores.tsv", *[f"item {i}\t{i / 4}" for i in range(40)])
    data = load_dataset(DataSpec(source="scores.tsv"), tmp_path, seed=0)
    assert (data.task, data.class_names, data.num_classes) == ("regression", (), 0)
    assert data.class_balance() == {}
    assert sorted(np.concatenate([s.y for s in data.splits.values()]).tolist()) == [
        i / 4 for i in range(40)
    ]
