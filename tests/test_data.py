"""The data stage without training or network: sources, text files, labels, splits, digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autodl.data import encode_labels, load_dataset, sources
from autodl.data.dataset import SPLITS
from autodl.data.sources import SourceRef, read, read_text_files, resolve
from autodl.data.splits import split_indices, take
from autodl.errors import DataError
from autodl.spec.sections import DataSpec, SplitSpec
from tests.conftest import SENTENCES

DEFAULT_FRACTIONS = {"train": 0.7, "train_dev": 0.1, "dev": 0.1, "test": 0.1}
KERAS_NAMES = (
    "keras:mnist, keras:fashion_mnist, keras:cifar10, keras:cifar100, keras:imdb, keras:reuters"
)


def write_lines(path: Path, *lines: str) -> Path:
    """Write ``lines`` (newline-terminated) to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def class_fractions(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Fraction of each class ``0..n_classes-1`` in ``y``."""
    return np.bincount(y, minlength=n_classes) / len(y)


# --- sources.resolve ------------------------------------------------------------------------


def test_resolve_builtin_name(tmp_path: Path) -> None:
    assert resolve("digits", tmp_path) == SourceRef("builtin", "digits", None)


def test_resolve_keras_name_does_not_load_it(tmp_path: Path) -> None:
    assert resolve("keras:imdb", tmp_path) == SourceRef("keras", "imdb", None)


def test_resolve_unknown_keras_name_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        resolve("keras:foo", tmp_path)
    assert str(caught.value) == (
        f"Unknown Keras dataset 'foo' in data.source; expected one of {KERAS_NAMES}. "
        "Received: data.source='keras:foo'"
    )


def test_resolve_relative_path_against_base_dir(tmp_path: Path) -> None:
    file = write_lines(tmp_path / "data" / "train.tsv", "good\t1")
    ref = resolve("data/train.tsv", tmp_path)
    assert ref == SourceRef("path", str(tmp_path / "data" / "train.tsv"), file.resolve())


def test_resolve_absolute_path_ignores_base_dir(tmp_path: Path) -> None:
    file = write_lines(tmp_path / "abs.tsv", "good\t1")
    ref = resolve(str(file), tmp_path / "elsewhere")
    assert ref.kind == "path" and ref.path == file.resolve()


def test_resolve_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    file = write_lines(tmp_path / "home.tsv", "good\t1")
    assert resolve("~/home.tsv", tmp_path / "elsewhere").path == file.resolve()


def test_resolve_missing_path_says_what_was_received(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        resolve("nope/data.tsv", tmp_path)
    assert str(caught.value) == (
        f"Data not found: {tmp_path / 'nope' / 'data.tsv'} does not exist. data.source takes a "
        "built-in name (digits, sunspots, co2), keras:<name>, or a file or folder (relative to "
        "the spec file). "
        "Received: data.source='nope/data.tsv'"
    )


def test_keras_source_offline_gives_a_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline() -> None:
        raise OSError("network unreachable")

    monkeypatch.setitem(sources.KERAS, "imdb", offline)
    with pytest.raises(DataError) as caught:
        read(SourceRef("keras", "imdb"), DataSpec(source="keras:imdb"))
    assert str(caught.value) == (
        "Could not load keras:imdb: Keras downloads it on first use and that failed "
        "(OSError: network unreachable). Connect to the internet once (the files are then "
        "cached under ~/.keras/datasets), or point --data at data on disk."
    )
    assert isinstance(caught.value.__cause__, OSError)


# --- text files -----------------------------------------------------------------------------


def test_single_text_file(tmp_path: Path) -> None:
    write_lines(
        tmp_path / "reviews.tsv",
        "  Great food.  \t1",
        "",
        "Tabs\tinside the text\t0 ",
        "Meh.\tneutral",
    )
    raw = read(resolve("reviews.tsv", tmp_path), DataSpec(source="reviews.tsv"))
    assert (raw.name, raw.kind) == ("reviews.tsv", "text")
    assert raw.x.tolist() == ["Great food.", "Tabs\tinside the text", "Meh."]
    assert raw.labels.tolist() == ["1", "0", "neutral"]
    assert raw.groups.tolist() == ["reviews.tsv"] * 3


def test_sentences_folder_reads_every_file_but_the_readme() -> None:
    raw = read_text_files(SENTENCES)
    assert (raw.name, raw.kind, len(raw.x), len(raw.labels)) == (
        "sentiment_labelled_sentences", "text", 3000, 3000,
    )
    names, counts = np.unique(raw.groups, return_counts=True)
    assert names.tolist() == ["amazon_cells_labelled.txt", "imdb_labelled.txt", "yelp_labelled.txt"]
    assert counts.tolist() == [1000, 1000, 1000]
    assert sorted(set(raw.labels.tolist())) == ["0", "1"]
    assert "readme.txt" not in raw.groups
    first = (SENTENCES / "amazon_cells_labelled.txt").read_text().splitlines()[0]
    last = (SENTENCES / "yelp_labelled.txt").read_text().splitlines()[-1]
    assert raw.x[0] == first.rpartition("\t")[0].strip()
    assert raw.x[-1] == last.rpartition("\t")[0].strip()


def test_folder_skips_files_that_do_not_start_with_text_tab_label(tmp_path: Path) -> None:
    write_lines(tmp_path / "a.txt", "nice\t1", "awful\t0")
    write_lines(tmp_path / "b_notes.txt", "Some notes about this data", "more\t1")
    write_lines(tmp_path / "c.TSV", "fine\t1")
    write_lines(tmp_path / "d.csv", "ignored,1")
    raw = read_text_files(tmp_path)
    assert raw.x.tolist() == ["nice", "awful", "fine"]
    assert raw.labels.tolist() == ["1", "0", "1"]
    assert raw.groups.tolist() == ["a.txt", "a.txt", "c.TSV"]
    assert raw.name == tmp_path.name


def test_bad_line_later_in_a_folder_file_names_file_and_line(tmp_path: Path) -> None:
    write_lines(tmp_path / "a.txt", "fine\t1")
    bad = write_lines(tmp_path / "b.txt", "ok\t1", "", "no tab on this line")
    with pytest.raises(DataError) as caught:
        read_text_files(tmp_path)
    assert str(caught.value) == (
        f"{bad}, line 3: expected 'text<TAB>label'. Received: line='no tab on this line'"
    )


@pytest.mark.parametrize(
    ("line", "shown"),
    [("text with empty label\t", "'text with empty label\\t'"), ("\t1", "'\\t1'")],
    ids=["empty-label", "empty-text"],
)
def test_a_line_needs_both_text_and_label(tmp_path: Path, line: str, shown: str) -> None:
    bad = write_lines(tmp_path / "data.tsv", "ok\t1", line)
    with pytest.raises(DataError) as caught:
        read_text_files(bad)
    assert str(caught.value) == (
        f"{bad}, line 2: expected 'text<TAB>label'. Received: line={shown}"
    )


def test_long_bad_line_is_cut_to_80_characters(tmp_path: Path) -> None:
    bad = write_lines(tmp_path / "data.tsv", "ok\t1", "x" * 200)
    with pytest.raises(DataError) as caught:
        read_text_files(bad)
    assert str(caught.value).endswith(f"Received: line='{'x' * 80}'")


def test_single_file_that_is_not_tab_separated_is_an_error(tmp_path: Path) -> None:
    file = write_lines(tmp_path / "data.txt", "text,label", "good,1")
    with pytest.raises(DataError) as caught:
        read(resolve("data.txt", tmp_path), DataSpec(source="data.txt"))
    assert str(caught.value) == (
        f"{file.resolve()}, line 1: expected 'text<TAB>label'. Received: line='text,label'"
    )


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as caught:
        read_text_files(empty)
    assert str(caught.value) == (
        f"No labelled text found in {empty}: expected files of 'text<TAB>label' lines "
        "(.txt or .tsv)."
    )


def test_folder_with_only_a_readme_is_an_error(tmp_path: Path) -> None:
    write_lines(tmp_path / "readme.txt", "About this data.")
    with pytest.raises(DataError, match=r"^No labelled text found in "):
        read_text_files(tmp_path)


# --- encode_labels --------------------------------------------------------------------------


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


# --- split_indices --------------------------------------------------------------------------


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


def test_a_rare_class_reaches_every_split_when_it_can() -> None:
    y = np.array([0] * 96 + [1] * 4)
    parts = split_indices(y, DEFAULT_FRACTIONS, "binary", seed=0)
    assert all(1 in y[idx] for idx in parts.values())


def test_integer_labels_written_as_floats_are_one_class() -> None:
    task, y, names = encode_labels(np.array(["1", "1.0", "2", "2.0"]), "auto", "src")
    assert (task, names, y.tolist()) == ("binary", ("1", "2"), [0, 0, 1, 1])


def test_take_materialises_the_splits() -> None:
    x = np.arange(10) * 10
    y = np.arange(10) % 2
    indices = {"train": np.array([0, 3]), "train_dev": np.array([], dtype=int),
               "dev": np.array([5]), "test": np.array([9])}
    splits = take(x, y, indices)
    assert splits["train"].x.tolist() == [0, 30] and splits["train"].y.tolist() == [0, 1]
    assert len(splits["train_dev"]) == 0 and splits["test"].x.tolist() == [90]


# --- load_dataset ---------------------------------------------------------------------------


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
