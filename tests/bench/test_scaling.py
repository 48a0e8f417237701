"""The scaling benchmark's pieces that need no training: the stored trials that fill a study, and
the augmented digits table (the augmentation itself: test_search_efficiency.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from autodl.spec.document import load_spec
from bench.scaling import TINY, augmented_digits, stored_trials, table_spec, write_table


def test_stored_trials_look_like_autodl_trials_of_the_space() -> None:
    import optuna

    spec = load_spec(TINY)
    trials = stored_trials(spec, 25)
    assert [t.number for t in trials] == list(range(25))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    names = {p.name for p in spec.parameters() if p.searched}
    for trial in trials:
        assert set(trial.params) <= names and trial.params
        assert trial.intermediate_values == {1: trial.value}
        assert trial.user_attrs["metrics"]["dev_accuracy"] == trial.value
        assert trial.user_attrs["state"] == "complete" and trial.user_attrs["epochs"] == 1
    assert len({t.value for t in trials}) > 10


def test_the_table_has_the_pixels_and_the_label_and_each_spec_reads_it(tmp_path: Path) -> None:
    features, labels = augmented_digits(200)
    write_table(tmp_path / "t.csv", features, labels)
    table = pd.read_csv(tmp_path / "t.csv")
    assert list(table.columns) == [f"p{i}" for i in range(64)] + ["label"] and len(table) == 200
    np.testing.assert_allclose(table.drop(columns="label").to_numpy(), features, atol=0.005)
    for stream in (False, True):
        spec = table_spec(tmp_path / "t.csv", stream)
        assert spec.data.stream is stream and spec.search.trials == 1 and spec.data.label == "label"
