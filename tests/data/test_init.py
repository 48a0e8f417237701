"""``autodl.data`` itself: the task inferred from the labels, labels encoded into a task and its
classes, and ``load_dataset`` from a spec's data section (digits, text folders, the shared
sentences, regression targets, whole-number targets such as scikit-learn's diabetes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autodl.data import encode_labels, infer_task, load_dataset
from autodl.errors import DataError
from autodl.spec.sections import DataSpec, SplitSpec
from tests.helpers import SENTENCES, diabetes_csv, write_lines


def numbers(distinct: int, rows: int) -> np.ndarray:
    """``rows`` whole-number labels taking ``distinct`` values, written as text."""
    return (np.arange(rows) % distinct * 10).astype(str)


@pytest.mark.parametrize(
    ("labels", "task", "reason"),
    [
        (numbers(20, 100), "multiclass", "20 distinct labels"),
        (numbers(21, 100), "regression", "21 distinct whole-number values"),
        (numbers(21, 420), "multiclass", "21 distinct labels"),
        (numbers(21, 419), "regression", "21 distinct whole-number values"),
        (np.array([f"{v}.0" for v in range(30)]), "regression", "30 distinct whole-number values"),
        (np.array(["0", "1", "1"]), "binary", "2 distinct labels"),
        (np.array([f"w{v}" for v in range(30)]), "multiclass", "30 distinct labels"),
        (np.array(["0.5", "2", "1"]), "regression", "labels that are not whole numbers"),
    ],
    ids=["20-values", "21-values", "21-is-5%", "21-over-5%", "floats", "binary", "words", "fractions"],
)
def test_infer_task_rule_at_its_edges(labels: np.ndarray, task: str, reason: str) -> None:
    assert infer_task(labels) == (task, reason)
    assert encode_labels(labels, "auto", "src")[0] == task


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


def test_no_labels_is_an_error() -> None:
    with pytest.raises(DataError) as caught:
        encode_labels(np.array([], dtype=str), "auto", "src")
    assert str(caught.value) == "src: no examples to learn from; add labelled examples to the source."


def test_whole_number_targets_like_diabetes_are_regression(
    tmp_path: Path, autodl_log: pytest.LogCaptureFixture
) -> None:
    diabetes_csv(tmp_path / "diabetes.csv")
    data = load_dataset(DataSpec(source="diabetes.csv"), tmp_path, seed=0)
    assert (data.task, data.class_names, data.kind, data.input_shape) == ("regression", (), "tabular", (10,))
    assert sum(data.sizes().values()) == 442
    targets = np.concatenate([split.y for split in data.splits.values()])
    assert (targets.dtype, targets.min(), targets.max()) == (np.float32, 25.0, 346.0)
    assert autodl_log.messages == [
        "task: regression (inferred from 214 distinct whole-number values; set data.task to change)"
    ]


def test_digits_number_labels_stay_multiclass_and_say_so(
    tmp_path: Path, autodl_log: pytest.LogCaptureFixture
) -> None:
    data = load_dataset(DataSpec(source="digits"), tmp_path, seed=0)
    assert (data.task, data.class_names) == ("multiclass", tuple(str(i) for i in range(10)))
    assert autodl_log.messages == [
        "task: multiclass (inferred from 10 distinct labels; set data.task to change)"
    ]


def test_explicit_multiclass_keeps_many_number_classes(
    tmp_path: Path, autodl_log: pytest.LogCaptureFixture
) -> None:
    write_lines(tmp_path / "scores.csv", "x,label", *[f"{i},{i % 21}" for i in range(210)])
    assert load_dataset(DataSpec(source="scores.csv"), tmp_path, seed=0).task == "regression"
    data = load_dataset(DataSpec(source="scores.csv", task="multiclass"), tmp_path, seed=0)
    assert (data.task, data.class_names) == ("multiclass", tuple(str(i) for i in range(21)))
    assert not [m for m in autodl_log.messages if "multiclass" in m], "an explicit task is not inferred"


def test_too_few_rows_for_many_number_classes_suggests_regression(tmp_path: Path) -> None:
    diabetes_csv(tmp_path / "diabetes.csv")
    with pytest.raises(DataError) as caught:
        load_dataset(DataSpec(source="diabetes.csv", task="multiclass"), tmp_path, seed=0)
    assert str(caught.value) == (
        "Too few rows to split: 442 examples cannot give every split at least one example of each "
        "of the 214 classes with the split fractions train 0.7, train_dev 0.1, dev 0.1, test 0.1; "
        "need at least 2131 rows, or larger (or zero) fractions in data.split. The labels are "
        "numbers: to predict them as a quantity rather than as 214 classes, set data.task: regression."
    )


def test_too_few_rows_for_word_classes_suggests_nothing(tmp_path: Path) -> None:
    write_lines(tmp_path / "words.csv", "x,label", *[f"{i},w{i % 30}" for i in range(60)])
    with pytest.raises(DataError) as caught:
        load_dataset(DataSpec(source="words.csv"), tmp_path, seed=0)
    assert str(caught.value).endswith("or larger (or zero) fractions in data.split.")
