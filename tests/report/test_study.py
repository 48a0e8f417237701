"""The study facts behind `autodl report` (stages, importances, best trials, the record), and
loading a study by spec or by name, on studies filled by the real ask/tell loop with fake
objectives (no network trains)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from autodl.cli import app
from autodl.report.study import MIN_IMPORTANCE_TRIALS, gather, importances, stage_distributions, top_trials
from autodl.search.stages import stage_spaces
from autodl.search.study import best_trial
from autodl.spec.space import describe
from tests.helpers import Searched, make_report_spec, searched, write_best_json


def test_stage_spaces_with_and_without_the_spec(coarse_to_fine: Searched) -> None:
    spec, study = coarse_to_fine.spec, coarse_to_fine.study
    with_spec = stage_distributions(study, spec)
    described = {k: {n: describe(d) for n, d in s.items()} for k, s in with_spec.items()}
    assert described == stage_spaces(spec, study)
    assert set(with_spec) == {1, 2}
    without = stage_distributions(study, None)
    assert {n: describe(d) for n, d in without[1].items()} == {
        "model.blocks": "int [1, 3]",
        "model.filters": "choice [16, 32, 64]",
        "model.dropout": "float [0, 0.5] linear",
        "optimizer.learning_rate": "float [0.0001, 0.1] log",
        "optimizer.beta_1": "float [0.9, 0.999] inv_log",
    }
    assert without[2] == with_spec[2]
    random_spec = spec.with_overrides(**{"search.strategy": "random"})
    assert stage_distributions(study, random_spec) == {}


def test_importances_keep_parameters_that_later_stages_narrowed(
    coarse_to_fine: Searched,
) -> None:
    study = coarse_to_fine.study
    narrowed = study.user_attrs["stage_2_space"]["optimizer.learning_rate"]
    assert narrowed["low"] > 1e-4 and narrowed["high"] < 1e-1, "stage 2 narrows the learning rate"
    found = importances(study)
    assert found.skipped is None
    assert set(found.values) == {"model.blocks", "model.filters", "model.dropout",
                                 "optimizer.learning_rate", "optimizer.beta_1"}
    assert sum(found.values.values()) == pytest.approx(1.0)
    assert list(found.values.values()) == sorted(found.values.values(), reverse=True)
    assert importances(study) == found, "a fixed seed gives the same importances every time"


def test_importances_rank_the_parameter_that_matters() -> None:
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    dists = {"optimizer.learning_rate": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
             "model.filters": optuna.distributions.CategoricalDistribution([16, 32, 64])}
    for _ in range(20):
        trial = study.ask(dists)
        rate, filters = trial.params["optimizer.learning_rate"], trial.params["model.filters"]
        study.tell(trial, 0.9 - 0.1 * abs(math.log10(rate) + 2.5) + filters / 10000)
    found = importances(study)
    assert list(found.values) == ["optimizer.learning_rate", "model.filters"]
    assert found.values["optimizer.learning_rate"] > 0.8


def test_importances_are_skipped_with_their_reason(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    study = searched(make_report_spec(write_spec, trials=3), tmp_path)
    complete = len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    assert importances(study).skipped == (
        f"parameter importances need at least {MIN_IMPORTANCE_TRIALS} complete trials, but the study "
        f"has {complete}"
    )
    flat = optuna.create_study()
    for _ in range(MIN_IMPORTANCE_TRIALS):
        trial = flat.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        flat.tell(trial, 0.5)
    assert importances(flat).skipped == "every complete trial has the same objective value"


def test_top_trials_rank_feasible_ones_first(coarse_to_fine: Searched) -> None:
    study = coarse_to_fine.study
    rows = top_trials(study, 100)
    states = [row.state for row in rows]
    assert "infeasible" in states and states == sorted(states, key=lambda s: s == "infeasible")
    feasible = [row.value for row in rows if row.state == "complete"]
    assert feasible == sorted(feasible, reverse=True)
    assert rows[0].number == best_trial(study).number
    assert rows[0].epochs == 4 and rows[0].params["optimizer.learning_rate"] > 0
    assert [row.number for row in top_trials(study, 2)] == [row.number for row in rows[:2]]


def test_gather_reads_the_objective_from_best_json_without_a_spec(
    coarse_to_fine: Searched, tmp_path: Path,
) -> None:
    spec, study = coarse_to_fine.spec, coarse_to_fine.study
    record = write_best_json(tmp_path / "best", study, spec)
    report = gather(study, "sqlite:///x.db", None, tmp_path / "best", 5)
    assert report.metric == "dev_accuracy" and report.best == record["trial"]
    assert report.diagnosis is not None and report.diagnosis.problems == ["data_mismatch"]
    assert report.searched == ["model.blocks", "model.filters", "model.dropout",
                               "optimizer.learning_rate", "optimizer.beta_1"]


def test_report_of_a_study_without_its_spec(write_spec: Callable[..., Path], project: Path,
                                            runner: CliRunner) -> None:
    spec = make_report_spec(write_spec, trials=3)
    searched(spec, project / "mlruns")
    result = runner.invoke(app, ["report", "--study", "fake", "--html", "out/page.html"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("fake in sqlite:///mlruns/optuna.db: maximize objective;")
    assert "Parameter importances: skipped, parameter importances need at least 5" in result.output
    assert "No diagnosis: best_model/fake/best.json does not hold one" in result.output
    page = (project / "out" / "page.html").read_text()
    assert "Not a coarse-to-fine search" in page and page.count("data:image/png;base64,") == 2


def test_report_errors_name_the_study_the_storage_and_the_fix(
    write_spec: Callable[..., Path], project: Path, runner: CliRunner,
) -> None:
    missing = runner.invoke(app, ["report", "--study", "nope"])
    assert missing.exit_code == 2
    assert missing.output.replace("\n", "") == (
        "Error: No study 'nope' in sqlite:///mlruns/optuna.db (the database mlruns/optuna.db does "
        "not exist); run `autodl search SPEC` first, or pass --study NAME and --storage URL of the "
        "searched study."
    )
    assert not (project / "mlruns").exists()
    searched(make_report_spec(write_spec, trials=1), project / "mlruns")
    other = runner.invoke(app, ["report", "--study", "nope"])
    assert other.exit_code == 2
    assert "No study 'nope' in sqlite:///mlruns/optuna.db (it holds 'fake'); run" in other.output.replace("\n", "")
    neither = runner.invoke(app, ["report"])
    assert neither.exit_code == 2 and neither.output.startswith("Error: Say which study to report on")
    server = runner.invoke(app, ["report", "--study", "x", "--storage", "postgresql://me:pw@127.0.0.1:1/x"])
    assert server.exit_code == 2
    flat = server.output.replace("\n", "")
    assert flat.startswith("Error: Cannot open the study storage postgresql://me:***@127.0.0.1:1/x")
    assert ":pw@" not in flat and "Traceback" not in flat
