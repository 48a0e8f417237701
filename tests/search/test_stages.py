"""Coarse-to-fine stages with ask/tell and fake objectives: no network trains."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest

from autodl.search import stages
from autodl.search.loop import optimize
from autodl.search.stages import stage_spaces
from autodl.search.study import open_study
from autodl.spec import space
from autodl.spec.space import Choice, FloatRange, IntRange
from tests.helpers import c2f_spec, curve_objective


def test_stage_sizes_and_membership() -> None:
    assert stages.stage_sizes(30, 3) == [10, 10, 10]
    assert stages.stage_sizes(10, 3) == [4, 3, 3]
    assert [stages.stage_of(n, [4, 3, 3]) for n in range(11)] == [0] * 4 + [1] * 3 + [2] * 4
    assert stages.kept_count(20, 0.25) == 5 and stages.kept_count(20, 3) == 3
    assert stages.kept_count(3, 0.25) == 2 and stages.kept_count(1, 0.25) == 1


def test_log_range_narrows_on_the_log_scale() -> None:
    dist = FloatRange(1e-5, 1e-1, "log")
    zoomed = stages.narrow(dist, [1e-3, 1e-2], margin=0.1)
    assert zoomed.scale == "log"
    assert math.log10(zoomed.low) == pytest.approx(-3.1) and math.log10(zoomed.high) == pytest.approx(-1.9)


def test_inv_log_range_narrows_on_one_minus_x() -> None:
    dist = FloatRange(0.8, 0.9999, "inv_log")
    zoomed = stages.narrow(dist, [0.99, 0.999], margin=0.0)
    assert (zoomed.low, zoomed.high) == pytest.approx((0.99, 0.999))


def test_int_and_linear_ranges_clip_to_the_original() -> None:
    assert stages.narrow(IntRange(1, 8), [7, 8], margin=0.5) == IntRange(6, 8)
    assert stages.narrow(IntRange(16, 256, step=16), [40, 100], margin=0.0) == IntRange(32, 112, step=16)
    single = stages.narrow(FloatRange(0.0, 0.5), [0.2], margin=0.1)
    assert (single.low, single.high) == pytest.approx((0.195, 0.205))


def test_choices_keep_what_the_best_trials_used() -> None:
    assert stages.narrow(Choice((16, 32, 64)), [64, 32, 64], 0.1) == Choice((32, 64))
    assert stages.narrow(Choice(("a", "b")), [], 0.1) == Choice(("a", "b"))
    conditioned = Choice(("x", "y"), when=(("model.cell", ("lstm",)),))
    assert stages.narrow(conditioned, ["y"], 0.1).when == conditioned.when


def near_1e3(config: dict) -> float:
    """Best at a learning rate of 1e-3 and little dropout."""
    lr = config["optimizer"]["learning_rate"]
    return 1.0 - abs(math.log10(lr) + 3) / 4 - config["model"]["dropout"] / 2


def test_later_stages_sample_inside_the_zoomed_ranges(write_spec, tmp_path: Path) -> None:
    spec = c2f_spec(write_spec)
    study = open_study(spec, f"sqlite:///{tmp_path / 's.db'}")
    result = optimize(spec, study, curve_objective(near_1e3), [], lambda t, o: None)
    assert result.counts["complete"] == 24
    spaces = stage_spaces(spec, study)
    assert set(spaces) == {1, 2, 3}
    second = space.from_raw(study.user_attrs["stage_2_space"]["optimizer.learning_rate"])
    third = space.from_raw(study.user_attrs["stage_3_space"]["optimizer.learning_rate"])
    assert 1e-5 <= second.low < second.high <= 1e-1
    assert second.high / second.low < 1e4, "stage 2 is narrower than stage 1"
    stage1 = [t for t in study.trials if t.user_attrs["stage"] == 1]
    top = sorted(stage1, key=lambda t: -t.value)[:2]
    for trial in top:
        assert second.low <= trial.params["optimizer.learning_rate"] <= second.high
    for trial in study.trials:
        stage = trial.user_attrs["stage"]
        expected = {1: FloatRange(1e-5, 1e-1, "log"), 2: second, 3: third}[stage]
        assert expected.low <= trial.params["optimizer.learning_rate"] <= expected.high
    assert [t.user_attrs["stage"] for t in study.trials] == [1] * 8 + [2] * 8 + [3] * 8
    best_stage = max(study.trials, key=lambda t: t.value).user_attrs["stage"]
    assert best_stage > 1
    assert spaces[2]["optimizer.learning_rate"].startswith("float [")
    narrowed = space.from_raw(study.user_attrs["stage_2_space"]["model.filters"])
    assert set(narrowed.values) < {8, 16, 32, 64} or len(narrowed.values) == 4
    for trial in study.trials:
        if trial.user_attrs["stage"] == 2:
            assert trial.params["model.filters"] in narrowed.values
            assert trial.user_attrs["allowed_choices"]["model.filters"] == list(narrowed.values)


def test_a_resumed_search_reuses_the_stored_stage_space(write_spec, tmp_path: Path) -> None:
    spec = c2f_spec(write_spec)
    url = f"sqlite:///{tmp_path / 's.db'}"
    optimize(spec.with_overrides(**{"search.trials": 10}), open_study(spec, url),
                    curve_objective(near_1e3), [], lambda t, o: None)
    stored = optuna.load_study(study_name="tiny", storage=url).user_attrs["stage_2_space"]
    optimize(spec, open_study(spec, url), curve_objective(near_1e3), [], lambda t, o: None)
    study = optuna.load_study(study_name="tiny", storage=url)
    assert study.user_attrs["stage_2_space"] == stored
    assert len(study.trials) == 24
