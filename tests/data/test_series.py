"""Time series: chronological splits cut into windows, horizon and stride, and the built-in series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autodl.data import load_dataset
from autodl.data.series import SERIES, SeriesData
from autodl.errors import DataError
from autodl.spec.sections import DataSpec
from tests.helpers import write_text


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
    write_text(tmp_path / "s.csv", "day,value\n1,10\n2,12\n3,11\n4,13\n5,14\n6,15\n7,13\n8,16\n9,17\n10,18\n")
    csv = load_dataset(DataSpec(source="s.csv", series="value", window=2), tmp_path, 0)
    assert csv.values.tolist()[:3] == [10, 12, 11]
