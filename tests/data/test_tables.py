"""Table files (CSV, TSV, Parquet): features, labels and text columns, errors that name the file,
row and column, empty tables, and the same checks on a streamed CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autodl.data import load_dataset, tables
from autodl.data.sources import read, resolve
from autodl.data.tables import read_table
from autodl.errors import DataError
from autodl.spec.sections import DataSpec
from tests.helpers import digits_csv, write_text


def test_csv_numeric_features_with_default_label(tmp_path: Path) -> None:
    write_text(tmp_path / "t.csv", "a,b,label\n1,2.5,x\n3,4,y\n5,6,x\n")
    raw = read(resolve("t.csv", tmp_path), DataSpec(source="t.csv"))
    assert raw.kind == "tabular" and raw.x.dtype == np.float32
    assert raw.x.tolist() == [[1, 2.5], [3, 4], [5, 6]]
    assert raw.labels.tolist() == ["x", "y", "x"]


def test_label_defaults_to_the_last_column_and_features_can_be_chosen(tmp_path: Path) -> None:
    write_text(tmp_path / "t.csv", "a,b,c,kind\n1,2,3,p\n4,5,6,q\n")
    raw = read(resolve("t.csv", tmp_path), DataSpec(source="t.csv"))
    assert raw.labels.tolist() == ["p", "q"] and raw.x.shape == (2, 3)
    chosen = read(resolve("t.csv", tmp_path), DataSpec(source="t.csv", features=["c", "a"]))
    assert chosen.x.tolist() == [[3, 1], [6, 4]]


def test_text_column_of_a_tsv_and_parquet(tmp_path: Path) -> None:
    import pandas as pd

    write_text(tmp_path / "r.tsv", "review\tstars\ngreat, really\t5\nbad\t1\n")
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
    ],
)
def test_bad_tables_name_file_row_and_column(tmp_path: Path, content: str, spec: dict, message: str) -> None:
    path = write_text(tmp_path / "t.csv", content)
    with pytest.raises(DataError) as caught:
        read(resolve("t.csv", tmp_path), DataSpec(source="t.csv", **spec))
    assert str(caught.value) == message.format(path=path.resolve())


def test_unreadable_table(tmp_path: Path) -> None:
    path = write_text(tmp_path / "t.parquet", "not parquet")
    with pytest.raises(DataError, match=r"t\.parquet: cannot read this table \("):
        read(resolve("t.parquet", tmp_path), DataSpec(source="t.parquet"))
    assert path.exists()


def test_streamed_csv_errors_give_the_row_of_the_whole_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tables, "CHUNK_ROWS", 50)
    path = digits_csv(tmp_path / "digits.csv", rows=120)
    lines = path.read_text().splitlines()
    cells = lines[102].split(",")
    cells[3] = "oops"
    lines[102] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as streamed:
        read_table(path, None, None, None, stream=True)
    assert str(streamed.value).startswith(
        f"{path}, row 103 (line 103 counting the header), column 'p3' holds 'oops', not a number"
    )
    with pytest.raises(DataError) as whole:
        read_table(path, None, None, None)
    assert str(streamed.value) == str(whole.value)
    with pytest.raises(DataError, match=r"no column 'labl' \(from data.label\); did you mean 'label'\?"):
        read_table(digits_csv(tmp_path / "ok.csv", rows=10), "labl", None, None, stream=True)


def test_a_csv_whose_cells_span_lines_cannot_stream(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('text,label\n"two\nlines",a\none,b\n')
    with pytest.raises(DataError, match=r"quoted cells span lines.*set data.stream: false"):
        read_table(path, None, None, "text", stream=True)


EMPTY_FILE = "{path}: the file is empty; a table needs a header line naming its columns, then one row per example."
NO_ROWS = "{path}: the table has no rows, only its header ({columns}); add one row per example below the header."


@pytest.mark.parametrize("stream", [False, True], ids=["in-memory", "streamed"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", EMPTY_FILE),
        ("\n\n", "{path}: the table has no columns (only blank lines); a table needs a header line "
                  "naming its columns, then one row per example."),
        ("a,b,label\n", NO_ROWS.replace("{columns}", "a, b, label")),
        ("a,b,label", NO_ROWS.replace("{columns}", "a, b, label")),
        ("label\n", NO_ROWS.replace("{columns}", "label")),
        ("label\nx\ny\n", "{path}: the table has only the label column 'label'; add feature columns, or "
                           "a text column named in data.text."),
    ],
    ids=["empty-file", "blank-lines", "header-only", "header-without-newline", "label-header-only",
         "only-the-label"],
)
def test_empty_csv_tables_are_one_data_error_naming_the_file(
    tmp_path: Path, content: str, message: str, stream: bool
) -> None:
    path = write_text(tmp_path / "t.csv", content)
    with pytest.raises(DataError) as caught:
        load_dataset(DataSpec(source="t.csv", stream=stream), tmp_path, seed=0)
    assert str(caught.value) == message.format(path=path.resolve())


def test_empty_parquet_and_tsv_tables(tmp_path: Path) -> None:
    import pandas as pd

    cases = {
        "header.parquet": pd.DataFrame({"a": [], "label": []}),
        "no_columns.parquet": pd.DataFrame(index=[4, 5, 6]),
    }
    for name, frame in cases.items():
        frame.to_parquet(tmp_path / name)
    write_text(tmp_path / "empty.parquet", "")
    write_text(tmp_path / "header.tsv", "a\tlabel\n")
    expected = {
        "header.parquet": NO_ROWS.replace("{columns}", "a, label"),
        "no_columns.parquet": "{path}: the table has 3 row(s) but no columns; it needs feature columns "
                              "(or a text column) and a label column.",
        "empty.parquet": EMPTY_FILE,
        "header.tsv": NO_ROWS.replace("{columns}", "a, label"),
    }
    for name, message in expected.items():
        with pytest.raises(DataError) as caught:
            load_dataset(DataSpec(source=name, label="label"), tmp_path, seed=0)
        assert str(caught.value) == message.format(path=(tmp_path / name).resolve()), name


def test_a_series_from_a_header_only_table(tmp_path: Path) -> None:
    path = write_text(tmp_path / "series.csv", "day,value\n")
    with pytest.raises(DataError) as caught:
        load_dataset(DataSpec(source="series.csv", series="value"), tmp_path, seed=0)
    assert str(caught.value) == NO_ROWS.format(path=path.resolve(), columns="day, value")
