"""Table files, time series, splitting by file, and which reader a path goes to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autodl.data import SeriesData, encode_labels, load_dataset
from autodl.data.series import SERIES
from autodl.data.sources import read, resolve
from autodl.errors import DataError
from autodl.spec.sections import DataSpec
from tests.conftest import SENTENCES


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_numeric_features_with_default_label(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", "a,b,label\n1,2.5,x\n3,4,y\n5,6,x\n")
    raw = read(resolve("t.csv", tmp_path), DataSpec(source="t.csv"))
    assert raw.kind == "tabular" and raw.x.dtype == np.float32
    assert raw.x.tolist() == [[1, 2.5], [3, 4], [5, 6]]
    assert raw.labels.tolist() == ["x", "y", "x"]


def test_label_defaults_to_the_last_column_and_features_can_be_chosen(tmp_path: Path) -> None:
    write(tmp_path / "t.csv", "a,b,c,kind\n1,2,3,p\n4,5,6,q\n")
    raw = read(resolve("t.csv", tmp_path), DataSpec(source="t.csv"))
    assert raw.labels.tolist() == ["p", "q"] and raw.x.shape == (2, 3)
    chosen = read(resolve("t.csv", tmp_path), DataSpec(source="t.csv", features=["c", "a"]))
    assert chosen.x.tolist() == [[3, 1], [6, 4]]


def test_text_column_of_a_tsv_and_parquet(tmp_path: Path) -> None:
    import pandas as pd

    write(tmp_path / "r.tsv", "review\tstars\ngreat, really\t5\nbad\t1\n")
    raw = read(resolve("r.tsv", tmp_path), DataSpec(source="r.tsv", text="review", label="stars"))
    assert (raw.kind, raw.x.tolist(), raw.labels.tolist()) == ("text", ["great, really", "bad"], ["5", "1"])
    pd.DataFrame({"f": [0.5, 1.5], "y": [0, 1]}).to_parquet(tmp_path / "p.parquet")
    table = read(resolve("p.parquet", tmp_path), DataSpec(source="p.parquet", label="y"))
    assert table.x.tolist() == [[0.5], [1.5]] and table.labels.tolist() == ["0", "1"]


@pytest.mark.parametrize(
    ("content", "spec", "message"),
    [
        ("a,b,label\n1,2,x\n", {"label": "lable"},
         "{path}: no column 'lable' (from data.label); did you mean 'label'? Columns: a, b, label. "
         "Received: data.label='lable'"),
        ("a,b,label\n1,2,x\n", {"features": ["a", "zzz"]},
         "{path}: no column 'zzz' (from data.features). Columns: a, b, label. Received: data.features='zzz'"),
        ("a,b,label\n1,2,x\n3,oops,y\n", {},
         "{path}, row 3 (line 3 counting the header), column 'b' holds 'oops', not a number; 1 such "
         "cell(s) in this column. Fix or drop those rows, or leave the column out of data.features."),
        ("a,b,label\n1,,x\n3,4,y\n", {},
         "{path}, row 2 (line 2 counting the header), column 'b' is empty; 1 such cell(s) in this "
         "column. Fix or drop those rows, or leave the column out of data.features."),
        ("a,label\n1,x\n2,\n", {},
         "{path}, row 3: the label column 'label' is empty there (1 row(s) without a label). Label "
         "or drop those rows."),
        ("label\nx\n", {}, "{path}: no feature columns besides the label 'label'."),
    ],
)
def test_bad_tables_name_file_row_and_column(tmp_path: Path, content: str, spec: dict, message: str) -> None:
    path = write(tmp_path / "t.csv", content)
    with pytest.raises(DataError) as caught:
        read(resolve("t.csv", tmp_path), DataSpec(source="t.csv", **spec))
    assert str(caught.value) == message.format(path=path.resolve())


def test_unreadable_table(tmp_path: Path) -> None:
    path = write(tmp_path / "t.parquet", "not parquet")
    with pytest.raises(DataError, match=r"t\.parquet: cannot read this table \("):
        read(resolve("t.parquet", tmp_path), DataSpec(source="t.parquet"))
    assert path.exists()


def test_mixed_label_types_are_an_error() -> None:
    with pytest.raises(DataError) as caught:
        encode_labels(np.array(["1", "2", "cat", "1"]), "auto", "src")
    assert str(caught.value) == (
        "src: mixed label types: 2 label value(s) are numbers (e.g. '1') and 1 are text "
        "(e.g. 'cat'). Make every label the same kind."
    )


def test_series_windows_are_chronological_and_exact() -> None:
    values = np.arange(100, dtype="float32")
    data = SeriesData.split("s", values, {"train": 0.7, "train_dev": 0.1, "dev": 0.1, "test": 0.1}, 1, 1)
    assert data.bounds == {"train": (0, 70), "train_dev": (70, 80), "dev": (80, 90), "test": (90, 100)}
    windows = data.windows(5)
    train, dev = windows.splits["train"], windows.splits["dev"]
    assert windows.kind == "sequence" and windows.task == "regression" and windows.input_shape == (5, 1)
    assert train.y.tolist() == list(range(5, 70)) and train.x[0, :, 0].tolist() == [0, 1, 2, 3, 4]
    assert dev.y.tolist() == list(range(80, 90)) and dev.x[0, :, 0].tolist() == [75, 76, 77, 78, 79]
    assert data.windows(5) is windows, "windows are made once per length"


def test_series_horizon_and_stride() -> None:
    values = np.arange(50, dtype="float32")
    data = SeriesData.split("s", values, {"train": 0.6, "train_dev": 0.0, "dev": 0.2, "test": 0.2}, 3, 2)
    train = data.windows(4).splits["train"]
    assert train.y.tolist()[:3] == [6, 8, 10]
    assert train.x[0, :, 0].tolist() == [0, 1, 2, 3], "the value 3 steps after the window"
    assert len(data.windows(4).splits["train_dev"]) == 0


def test_window_longer_than_a_split_is_a_clear_error() -> None:
    data = SeriesData.split("s", np.arange(20, dtype="float32"),
                            {"train": 0.7, "train_dev": 0.1, "dev": 0.1, "test": 0.1}, 1, 1)
    with pytest.raises(DataError) as caught:
        data.windows(15)
    assert str(caught.value) == (
        "s: a window of 15 steps leaves the train split (positions 0-13 of 20) without a target; "
        "use a shorter data.window or a longer series."
    )


def test_builtin_sunspots_and_a_csv_series(tmp_path: Path) -> None:
    assert set(SERIES) == {"sunspots", "co2"}
    data = load_dataset(DataSpec(source="sunspots", series="SUNACTIVITY"), tmp_path, 0)
    assert isinstance(data, SeriesData) and len(data.values) == 309
    assert data.values[:3].tolist() == [5.0, 11.0, 16.0]
    write(tmp_path / "s.csv", "day,value\n1,10\n2,12\n3,11\n4,13\n5,14\n6,15\n7,13\n8,16\n9,17\n10,18\n")
    csv = load_dataset(DataSpec(source="s.csv", series="value", window=2), tmp_path, 0)
    assert csv.values.tolist()[:3] == [10, 12, 11]


def test_series_needs_a_table_or_builtin(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_dataset(DataSpec(source="digits", series="x"), tmp_path, 0)
    assert str(caught.value) == (
        "data.series needs a table file (.csv, .tsv, .parquet) or a built-in series (sunspots, co2). "
        "Received: data.source='digits'"
    )
    with pytest.raises(DataError, match=r"sunspots is a time series: set data.series to its column \(SUNACTIVITY\)"):
        load_dataset(DataSpec(source="sunspots"), tmp_path, 0)


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
    write(tmp_path / "lines.tsv", "good\t1\nbad\t0\n")
    assert read(resolve("lines.tsv", tmp_path), DataSpec(source="lines.tsv")).kind == "text"
