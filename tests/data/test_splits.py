"""Splitting into train / train-dev / dev / test: sizes, stratification, seeds, rare classes, and
splitting by file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autodl.data import load_dataset
from autodl.data.dataset import SPLITS
from autodl.data.splits import split_indices, take
from autodl.errors import DataError
from autodl.spec.sections import DataSpec
from tests.helpers import SENTENCES

DEFAULT_FRACTIONS = {"train": 0.7, "train_dev": 0.1, "dev": 0.1, "test": 0.1}


def class_fractions(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Fraction of each class ``0..n_classes-1`` in ``y``."""
    return np.bincount(y, minlength=n_classes) / len(y)


@pytest.fixture
def imbalanced() -> np.ndarray:
    """1000 shuffled labels: 70% class 0, 20% class 1, 10% class 2."""
    y = np.repeat([0, 1, 2], [700, 200, 100])
    return np.random.default_rng(1).permutation(y)


def test_split_sizes_follow_the_fractions(imbalanced: np.ndarray) -> None:
    parts = split_indices(imbalanced, DEFAULT_FRACTIONS, "multiclass", seed=0)
    assert list(parts) == list(SPLITS)
    for name, fraction in DEFAULT_FRACTIONS.items():
        assert abs(len(parts[name]) - fraction * 1000) <= 1, name


def test_splits_are_disjoint_and_cover_every_row(imbalanced: np.ndarray) -> None:
    parts = split_indices(imbalanced, DEFAULT_FRACTIONS, "multiclass", seed=0)
    joined = np.concatenate(list(parts.values()))
    assert len(joined) == 1000
    assert np.array_equal(np.sort(joined), np.arange(1000))
    for idx in parts.values():
        assert np.array_equal(idx, np.sort(idx))


def test_stratified_splits_keep_the_class_balance(imbalanced: np.ndarray) -> None:
    parts = split_indices(imbalanced, DEFAULT_FRACTIONS, "multiclass", seed=0)
    overall = class_fractions(imbalanced, 3)
    for name, idx in parts.items():
        assert np.all(np.abs(class_fractions(imbalanced[idx], 3) - overall) <= 0.02), name


def test_same_seed_same_split_other_seed_other_split(imbalanced: np.ndarray) -> None:
    first = split_indices(imbalanced, DEFAULT_FRACTIONS, "multiclass", seed=7)
    again = split_indices(imbalanced, DEFAULT_FRACTIONS, "multiclass", seed=7)
    other = split_indices(imbalanced, DEFAULT_FRACTIONS, "multiclass", seed=8)
    for name in SPLITS:
        assert np.array_equal(first[name], again[name]), name
        assert not np.array_equal(first[name], other[name]), name


def test_zero_fraction_gives_an_empty_split(imbalanced: np.ndarray) -> None:
    fractions = {"train": 0.8, "train_dev": 0.0, "dev": 0.2, "test": 0.0}
    parts = split_indices(imbalanced, fractions, "multiclass", seed=0)
    assert {name: len(idx) for name, idx in parts.items()} == {
        "train": 800, "train_dev": 0, "dev": 200, "test": 0,
    }


def test_regression_split_is_not_stratified_but_complete() -> None:
    y = np.random.default_rng(0).normal(size=50).astype("float32")
    parts = split_indices(y, DEFAULT_FRACTIONS, "regression", seed=0)
    assert {name: len(idx) for name, idx in parts.items()} == {
        "train": 35, "train_dev": 5, "dev": 5, "test": 5,
    }
    assert np.array_equal(np.sort(np.concatenate(list(parts.values()))), np.arange(50))


def test_too_few_rows_is_an_error() -> None:
    y = np.arange(10) % 2
    with pytest.raises(DataError) as caught:
        split_indices(y, DEFAULT_FRACTIONS, "binary", seed=0)
    assert str(caught.value) == (
        "Too few rows to split: 10 examples cannot give every split at least one example of "
        "each of the 2 classes with the split fractions train 0.7, train_dev 0.1, dev 0.1, "
        "test 0.1; need at least 11 rows, or larger (or zero) fractions in data.split."
    )


def test_just_enough_rows_give_each_split_every_class() -> None:
    y = np.arange(20) % 2
    parts = split_indices(y, DEFAULT_FRACTIONS, "binary", seed=0)
    for name, idx in parts.items():
        assert sorted(set(y[idx].tolist())) == [0, 1], name


@pytest.mark.parametrize("rare", [1, 2, 3])
def test_a_class_too_rare_to_stratify_is_a_data_error(rare: int) -> None:
    y = np.array([0] * (100 - rare) + [1] * rare)
    with pytest.raises(DataError) as caught:
        split_indices(y, DEFAULT_FRACTIONS, "binary", seed=0)
    assert str(caught.value) == (
        f"Class 1 has {rare} example(s), too few to appear in each of the 4 splits; add examples "
        "of it, remove it, or set unused split fractions to 0 in data.split."
    )


def test_a_rare_class_is_named_by_its_label_and_number_classes_suggest_regression() -> None:
    y = np.array([0] * 50 + [1] * 50 + [2] * 2)
    with pytest.raises(DataError) as caught:
        split_indices(y, DEFAULT_FRACTIONS, "multiclass", seed=0, class_names=("10", "20", "30"))
    assert str(caught.value) == (
        "Class 30 has 2 example(s), too few to appear in each of the 4 splits; add examples of it, "
        "remove it, or set unused split fractions to 0 in data.split. The labels are numbers: to "
        "predict them as a quantity rather than as 3 classes, set data.task: regression."
    )
    with pytest.raises(DataError) as words:
        split_indices(y, DEFAULT_FRACTIONS, "multiclass", seed=0, class_names=("ant", "bee", "cat"))
    assert str(words.value).startswith("Class cat has 2 example(s)")
    assert str(words.value).endswith("set unused split fractions to 0 in data.split.")


def test_two_number_classes_get_no_regression_hint() -> None:
    y = np.array([0] * 99 + [1])
    with pytest.raises(DataError) as caught:
        split_indices(y, DEFAULT_FRACTIONS, "binary", seed=0, class_names=("0", "1"))
    assert str(caught.value).endswith("set unused split fractions to 0 in data.split.")


def test_a_rare_class_reaches_every_split_when_it_can() -> None:
    y = np.array([0] * 96 + [1] * 4)
    parts = split_indices(y, DEFAULT_FRACTIONS, "binary", seed=0)
    assert all(1 in y[idx] for idx in parts.values())


def test_take_materialises_the_splits() -> None:
    x = np.arange(10) * 10
    y = np.arange(10) % 2
    indices = {"train": np.array([0, 3]), "train_dev": np.array([], dtype=int),
               "dev": np.array([5]), "test": np.array([9])}
    splits = take(x, y, indices)
    assert splits["train"].x.tolist() == [0, 30] and splits["train"].y.tolist() == [0, 1]
    assert len(splits["train_dev"]) == 0 and splits["test"].x.tolist() == [90]


def test_splits_are_exact_and_complete_for_many_class_mixes() -> None:
    rng = np.random.default_rng(0)
    fractions = {"train": 0.6, "train_dev": 0.1, "dev": 0.15, "test": 0.15}
    for _ in range(200):
        counts = rng.integers(4, 60, size=rng.integers(2, 8))
        y = rng.permutation(np.repeat(np.arange(len(counts)), counts))
        parts = split_indices(y, fractions, "multiclass", seed=int(rng.integers(1000)))
        held = [int(np.ceil(len(y) * f - 1e-9)) for f in (0.1, 0.15, 0.15)]
        assert [len(parts[k]) for k in ("train", "train_dev", "dev", "test")] == [len(y) - sum(held), *held]
        assert np.array_equal(np.sort(np.concatenate(list(parts.values()))), np.arange(len(y)))
        for idx in parts.values():
            assert set(y[idx].tolist()) == set(range(len(counts)))


CROSS_SITE = {"train_files": ["amazon_cells_labelled.txt", "imdb_labelled.txt"],
              "dev_files": ["yelp_labelled.txt"], "train_dev": 0.1, "test": 0.5}


def test_split_by_file_trains_on_two_sites_and_evaluates_on_the_third() -> None:
    data = load_dataset(DataSpec(source=str(SENTENCES), split=CROSS_SITE), SENTENCES, 0)
    assert data.sizes() == {"train": 1800, "train_dev": 200, "dev": 500, "test": 500}
    from autodl.data.sources import read_text_files

    raw = read_text_files(SENTENCES)
    yelp = set(raw.x[raw.groups == "yelp_labelled.txt"].tolist())
    assert set(data.splits["dev"].x.tolist()) <= yelp and set(data.splits["test"].x.tolist()) <= yelp
    assert not (set(data.splits["train"].x.tolist()) & set(data.splits["dev"].x.tolist()) - yelp)
    assert abs(data.splits["train_dev"].y.mean() - 0.5) < 0.05


def test_split_by_file_with_test_files_and_errors(tmp_path: Path) -> None:
    files = {"train_files": ["amazon_cells_labelled.txt"], "dev_files": ["imdb_labelled.txt"],
             "test_files": ["yelp_labelled.txt"]}
    data = load_dataset(DataSpec(source=str(SENTENCES), split=files), SENTENCES, 0)
    assert data.sizes() == {"train": 900, "train_dev": 100, "dev": 1000, "test": 1000}
    with pytest.raises(DataError) as caught:
        load_dataset(DataSpec(source=str(SENTENCES), split={**files, "dev_files": ["imbd.txt"]}), SENTENCES, 0)
    assert str(caught.value) == (
        "data.split.dev_files: sentiment_labelled_sentences has no file 'imbd.txt'; its files are "
        "amazon_cells_labelled.txt, imdb_labelled.txt, yelp_labelled.txt. "
        "Received: data.split.dev_files=['imbd.txt']"
    )
    with pytest.raises(DataError, match="digits: splitting by file needs a folder of text<TAB>label files"):
        load_dataset(DataSpec(source="digits", split=files), tmp_path, 0)
