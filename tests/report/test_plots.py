"""The search plots: every plot a PNG, and the skipped ones with their reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna

from autodl.report import plots
from autodl.search.study import count_states
from tests.helpers import Searched, make_report_spec, searched

PNG = b"\x89PNG\r\n\x1a\n"


def test_every_plot_is_a_png_and_skipped_ones_say_why(
    coarse_to_fine: Searched, write_spec: Callable[..., Path], tmp_path: Path,
) -> None:
    spec, study = coarse_to_fine.spec, coarse_to_fine.study
    counts = count_states(study)
    assert counts["pruned"] and counts["failed"] and counts["infeasible"], counts
    made = plots.search_plots(study, spec, tmp_path / "plots")
    assert made.skipped == {}
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "optimization_history.png", "parallel_coordinates.png", "param_importances.png",
        "stage_ranges.png",
    ]
    for path in made.files.values():
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000

    few_spec = make_report_spec(write_spec, trials=2)
    few = plots.search_plots(searched(few_spec, tmp_path / "few"), few_spec, tmp_path / "few" / "plots")
    assert set(few.files) <= {"optimization_history.png", "parallel_coordinates.png"}
    assert "stage_ranges.png" not in few.files and "stage_ranges.png" not in few.skipped
    assert few.skipped["param_importances.png"].startswith("parameter importances need at least 5")


def test_history_of_failed_trials_only(tmp_path: Path) -> None:
    study = optuna.create_study()
    for _ in range(2):
        study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    assert plots.plot_history(study, "dev_loss", tmp_path / "h.png") is None
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG
    assert plots.plot_history(optuna.create_study(), "dev_loss", tmp_path / "e.png") == "no trial has finished yet"
    assert plots.plot_parallel(study, "dev_loss", tmp_path / "p.png") == (
        "parallel coordinates need at least 2 complete trials, but the study has 0"
    )
