"""`autodl report`, the study facts behind it, and the search plots, on studies filled by the real
ask/tell loop with fake objectives (no network trains)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from autodl.cli import app
from autodl.outcome import TrialOutcome
from autodl.report import plots
from autodl.report.study import (
    MIN_IMPORTANCE_TRIALS,
    gather,
    importances,
    stage_distributions,
    top_trials,
)
from autodl.results.diagnosis import diagnose
from autodl.search.loop import optimize
from autodl.search.stages import stage_spaces
from autodl.search.study import best_trial, count_states, open_study
from autodl.spec import Spec, load_spec
from autodl.spec.space import describe
from tests.conftest import minimal_spec

PNG = b"\x89PNG\r\n\x1a\n"
SPACE = {
    "model": {"family": "cnn", "blocks": {"int": [1, 3]}, "filters": {"choice": [16, 32, 64]},
              "dropout": {"float": [0.0, 0.5]}},
    "optimizer": {"learning_rate": {"float": [1.0e-4, 1.0e-1], "scale": "log"},
                  "beta_1": {"float": [0.9, 0.999], "scale": "inv_log"}},
    "training": {"epochs": 4},
}


def spec_data(**search_opts: Any) -> dict[str, Any]:
    return minimal_spec(name="fake", **SPACE, tracking={"enabled": False},
                        search={"trials": 12, "pruner": {"name": "none"}, **search_opts})


def make_spec(write_spec: Callable[..., Path], **search_opts: Any) -> Spec:
    return load_spec(write_spec(spec_data(**search_opts)))


def objective(config: dict[str, dict[str, Any]], seed: int, should_prune: Any, listeners: Any,
              suggest: Any) -> TrialOutcome:
    """Dev accuracy peaks at a learning rate of 3e-3; 64 filters break the params limit; three
    blocks with dropout above 0.45 fail; trials below 0.75 after two epochs are pruned."""
    rate = config["optimizer"]["learning_rate"]
    if config["model"]["blocks"] == 3 and config["model"]["dropout"] > 0.45:
        raise RuntimeError("loss became nan")
    target = 0.95 - 0.15 * abs(math.log10(rate) - math.log10(3e-3)) + config["model"]["dropout"] / 100
    for epoch in range(1, 5):
        value = target * (1 - 0.3 ** epoch)
        should_prune(epoch, value)
        if epoch == 2 and value < 0.75:
            return TrialOutcome("pruned", value=value, epochs=epoch, pruned_epoch=epoch)
    filters = config["model"]["filters"]
    return TrialOutcome("complete", value=value, epochs=4,
                        metrics={"dev_accuracy": value, "params": filters * 50.0})


def searched(spec: Spec, tmp_path: Path) -> optuna.Study:
    """The study a search of ``spec`` with the fake objective leaves behind."""
    study = open_study(spec, f"sqlite:///{tmp_path / 'optuna.db'}")
    optimize(spec, study, objective, [], lambda trial, outcome: None)
    return study


@dataclass(frozen=True)
class Searched:
    """A spec file, its spec, and the study its fake search left in ``storage``."""

    path: Path
    spec: Spec
    study: optuna.Study
    storage: str


def search_once(folder: Path, **search_opts: Any) -> Searched:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec_data(**search_opts), sort_keys=False))
    spec = load_spec(path)
    study = searched(spec, folder)
    return Searched(path, spec, study, f"sqlite:///{folder / 'optuna.db'}")


@pytest.fixture(scope="module")
def coarse_to_fine(tmp_path_factory: pytest.TempPathFactory) -> Searched:
    """16 trials in 2 stages: complete, infeasible (64 filters), pruned and failed ones."""
    return search_once(tmp_path_factory.mktemp("c2f"), strategy="coarse_to_fine", stages=2, trials=16,
                       constraints={"params": 2500})


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
    study = searched(make_spec(write_spec, trials=3), tmp_path)
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

    few_spec = make_spec(write_spec, trials=2)
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


def write_record(folder: Path, study: optuna.Study, spec: Spec) -> dict[str, Any]:
    """A best.json as the end of a search writes it, with a data-mismatch diagnosis."""
    best = best_trial(study)
    diagnosis = diagnose("error = 1 - accuracy", 0.02, 0.03, 0.12, test=0.13)
    record = {"name": spec.name, "trial": best.number, "objective": {"metric": "dev_accuracy"},
              "metrics": {"dev_accuracy": best.value},
              "diagnosis": {"verdict": diagnosis.verdict, **asdict(diagnosis),
                            "recommendations": diagnosis.recommendations()}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "best.json").write_text(json.dumps(record))
    return record


def test_report_of_a_spec_prints_the_tables_and_writes_a_self_contained_page(
    coarse_to_fine: Searched, project: Path, runner: CliRunner,
) -> None:
    spec, study = coarse_to_fine.spec, coarse_to_fine.study
    record = write_record(project / "best_model" / "fake", study, spec)
    storage = coarse_to_fine.storage
    result = runner.invoke(app, ["report", str(coarse_to_fine.path), "--storage", storage, "--top", "3"])
    assert result.exit_code == 0, result.output
    out = result.output
    counts = count_states(study)
    assert out.startswith(
        f"fake in {storage}: maximize dev_accuracy; {counts['complete']} complete "
        f"({counts['infeasible']} infeasible), {counts['pruned']} pruned, {counts['failed']} failed."
    )
    assert "Best 3 trials" in out and f"#{record['trial']}" in out
    assert "Coarse-to-fine stages" in out and "float [0.9, 0.999] inv_log" in out
    assert "Parameter importances (fANOVA over the complete trials)" in out
    assert f"Best model: trial #{record['trial']} (best_model/fake/best.json)" in out
    assert "Verdict: data mismatch." in out
    assert out.rstrip().endswith("HTML report: reports/fake.html")
    page = (project / "reports" / "fake.html").read_text()
    assert page.count('src="data:image/png;base64,') == 4
    assert "<b>Verdict:</b> data mismatch." in page
    assert "<th>optimizer.learning_rate</th>" in page and "<td>float [0.9, 0.999] inv_log</td>" in page
    assert "make the training data more like dev" in page


def test_report_of_a_study_without_its_spec(write_spec: Callable[..., Path], project: Path,
                                            runner: CliRunner) -> None:
    spec = make_spec(write_spec, trials=3)
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
        "Error: No study 'nope' in sqlite:///mlruns/optuna.db: the database mlruns/optuna.db does "
        "not exist; run `autodl search SPEC` first, or pass --study NAME and --storage URL of the "
        "searched study."
    )
    assert not (project / "mlruns").exists()
    searched(make_spec(write_spec, trials=1), project / "mlruns")
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


def test_report_imports_neither_tensorflow_nor_mlflow(write_spec: Callable[..., Path], project: Path) -> None:
    searched(make_spec(write_spec, trials=2), project / "mlruns")
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom autodl.cli import app\n"
        "r = CliRunner().invoke(app, ['report', '--study', 'fake'])\nassert r.exit_code == 0, r.output\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'mlflow'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_gather_reads_the_objective_from_best_json_without_a_spec(
    coarse_to_fine: Searched, tmp_path: Path,
) -> None:
    spec, study = coarse_to_fine.spec, coarse_to_fine.study
    record = write_record(tmp_path / "best", study, spec)
    report = gather(study, "sqlite:///x.db", None, tmp_path / "best", 5)
    assert report.metric == "dev_accuracy" and report.best == record["trial"]
    assert report.diagnosis is not None and report.diagnosis.problems == ["data_mismatch"]
    assert report.searched == ["model.blocks", "model.filters", "model.dropout",
                               "optimizer.learning_rate", "optimizer.beta_1"]
