"""Where data comes from: resolving ``data.source``, the Keras datasets offline, labelled text
files and folders, a series source, and which reader each kind of path goes to."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from autodl.data import load_dataset, sources
from autodl.data.sources import SourceRef, read, read_text_files, resolve
from autodl.errors import DataError
from autodl.spec.sections import DataSpec
from tests.helpers import SENTENCES, write_lines, write_text

KERAS_NAMES = (
    "keras:mnist, keras:fashion_mnist, keras:cifar10, keras:cifar100, keras:imdb, keras:reuters"
)


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


def test_series_needs_a_table_or_builtin(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_dataset(DataSpec(source="digits", series="x"), tmp_path, 0)
    assert str(caught.value) == (
        "data.series needs a table file (.csv, .tsv, .parquet) or a built-in series (sunspots, co2). "
        "Received: data.source='digits'"
    )
    with pytest.raises(DataError, match=r"sunspots is a time series: set data.series to its column \(SUNACTIVITY\)"):
        load_dataset(DataSpec(source="sunspots"), tmp_path, 0)


def test_paths_go_to_the_reader_of_their_kind(tmp_path: Path) -> None:
    from PIL import Image

    for name, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (4, 4), colour).save(tmp_path / "pics" / name / f"{i}.png")
    images = read(resolve("pics", tmp_path), DataSpec(source="pics", color_mode="grayscale"))
    assert images.kind == "image" and images.x.shape == (4, 4, 4, 1)
    np.savez(tmp_path / "a.npz", x=np.zeros((3, 2)), y=np.array([0, 1, 0]))
    assert read(resolve("a.npz", tmp_path), DataSpec(source="a.npz")).kind == "tabular"
    write_text(tmp_path / "lines.tsv", "good\t1\nbad\t0\n")
    assert read(resolve("lines.tsv", tmp_path), DataSpec(source="lines.tsv")).kind == "text"


@pytest.mark.parametrize(("source", "message"), [
    ("~nosuchuser-autodl/x.csv", "data.source: Could not determine home directory"),
    ("x" * 300 + ".csv", "data.source is not a usable path (File name too long)"),
])
def test_unusable_paths_are_data_errors(tmp_path: Path, source: str, message: str) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        resolve(source, tmp_path)
