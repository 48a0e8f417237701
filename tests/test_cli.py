"""The CLI's fast paths: help, validate, sample, schema, bad input ending in one message and exit
code 2, what each fast command leaves unimported, and the options passed on to workers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from autodl.cli import app
from autodl.errors import AutodlError
from autodl.search.workers import Workers
from tests.helpers import REPO, REPORT_SPACE, make_report_spec, minimal_spec, searched, write_module

REPORT_SPACE_NO_TRACKING = {**REPORT_SPACE, "tracking": {"enabled": False}}


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("search", "validate", "ui"):
        assert command in result.output


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == "autodl 0.1.0"


def test_validate_summarises_the_space(runner: CliRunner) -> None:
    path = REPO / "search_spaces" / "digits_cnn.yaml"
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        f"{path} is valid: cnn on digits, 7 searched hyperparameters, 25 trials (random, pruner median)."
    )
    assert "  optimizer.learning_rate: float [0.0001, 0.03] log" in lines
    assert "  training.batch_size: choice [32, 64, 128]" in lines


@pytest.mark.parametrize("command", ["validate", "search"])
def test_bad_spec_exits_2_without_traceback(
    command: str, runner: CliRunner, write_spec: Callable[..., Path]
) -> None:
    path = write_spec(minimal_spec(model={"family": "cnn", "filtres": 3}))
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: Invalid spec {path}:\n"
        "  model.filtres: unknown key; did you mean 'model.filters'? Received: model.filtres=3\n"
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("command", ["validate", "search"])
def test_missing_data_is_caught_before_any_training(
    command: str, runner: CliRunner, write_spec: Callable[..., Path]
) -> None:
    path = write_spec(minimal_spec(data={"source": "no_such_folder"}))
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 2
    assert result.output.replace("\n", " ").startswith(
        f"Error: Data not found: {path.parent / 'no_such_folder'} does not exist."
    )
    assert "Received: data.source='no_such_folder'" in result.output.replace("\n", "")
    assert "Traceback" not in result.output


def test_missing_spec_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "Spec file not found" in result.output and "missing.yaml" in result.output


def test_empty_spec_file(runner: CliRunner, write_spec: Callable[..., Path]) -> None:
    path = write_spec("")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.output.replace("\n", "") == (
        f"Error: {path} is empty: a spec needs at least name, data and model."
    )


def test_search_override_is_validated(runner: CliRunner, write_spec: Callable[..., Path]) -> None:
    result = runner.invoke(app, ["search", str(write_spec(minimal_spec())), "--trials", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--trials'" in result.output


def test_set_changes_spec_fields_for_one_run(runner: CliRunner, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(minimal_spec())
    result = runner.invoke(app, ["validate", str(spec), "--set", "search.strategy=tpe", "--set",
                                 "search.trials=9", "--set", "model.filters={choice: [8, 16]}"])
    assert result.exit_code == 0, result.output
    assert "9 trials (tpe, pruner" in result.output
    assert "model.filters: choice [8, 16]" in result.output
    sampled = runner.invoke(app, ["sample", str(spec), "-n", "3", "--format", "csv", "--set",
                                  "model.filters={choice: [8, 16]}"])
    assert sampled.exit_code == 0, sampled.output
    column = sampled.output.splitlines()[0].split(",").index("model.filters")
    assert {row.split(",")[column] for row in sampled.output.splitlines()[1:]} <= {"8", "16"}


@pytest.mark.parametrize(("item", "message"), [
    ("training.epochs", "--set takes KEY=VALUE, KEY a dotted spec path such as --set training.epochs=3. "
                        "Received: --set 'training.epochs'"),
    ("training..epochs=3", "Received: --set 'training..epochs=3'"),
    ("training.epochs=", "--set training.epochs: give a value after '='"),
    ("training.epochs=[1,", "--set training.epochs: the value is not valid YAML"),
    ("name.first=x", "name.first: name is a value, not a section, so it has no field first. "
                     "Received: name='tiny'"),
    ("training.epochs=many", "training.epochs: expected an integer >= 1 or a distribution. "
                             "Received: training.epochs='many'"),
    ("training.epoch=3", "training.epoch"),
])
def test_a_bad_set_is_one_message_and_exit_2(
    runner: CliRunner, write_spec: Callable[..., Path], item: str, message: str
) -> None:
    spec = write_spec(minimal_spec(name="tiny"))
    for command in ("validate", "search", "sample"):
        result = runner.invoke(app, [command, str(spec), "--set", item])
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()), result.output
        assert "Traceback" not in result.output


def test_named_options_win_over_set(write_spec: Callable[..., Path]) -> None:
    from autodl import cli

    spec = write_spec(minimal_spec())
    loaded = cli._load(spec, None, 4, None, None, None, 7, ["search.trials=30", "seed=1", "training.epochs=2"])
    assert (loaded.search.trials, loaded.seed, loaded.training.epochs) == (4, 7, 2)


def test_unreachable_tracking_server_stops_before_training(
    runner: CliRunner, write_spec: Callable[..., Path], project: Path
) -> None:
    path = write_spec(minimal_spec())
    result = runner.invoke(app, ["search", str(path), "--tracking-uri", "http://127.0.0.1:9", "--quiet"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: Cannot reach the MLflow tracking store http://127.0.0.1:9")
    assert not (project / "best_model").exists()


def test_unreachable_study_database(runner: CliRunner, write_spec: Callable[..., Path], project: Path) -> None:
    path = write_spec(minimal_spec(tracking={"enabled": False}))
    result = runner.invoke(
        app, ["search", str(path), "--storage", "postgresql://me:pw@127.0.0.1:1/x", "--quiet"]
    )
    assert result.exit_code == 2
    flat = result.output.replace("\n", "")
    assert flat.startswith("Error: Cannot open the study storage postgresql://me:***@127.0.0.1:1/x")
    assert ":pw@" not in flat


def test_ui_without_a_store_says_what_to_do(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(app, ["ui"])
    assert result.exit_code == 2
    assert result.output.replace("\n", "") == (
        "Error: No MLflow store at mlruns/mlflow.db: run `autodl search SPEC` first, or pass "
        "--tracking-uri."
    )


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The commands ``autodl ui`` would replace itself with (recorded, not run)."""
    commands: list[list[str]] = []
    monkeypatch.setattr("autodl.cli.os.execv", lambda path, argv: commands.append(list(argv)))
    monkeypatch.delenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", raising=False)
    return commands


def test_ui_with_a_spec_prints_the_address_of_its_training_runs(
    runner: CliRunner, project: Path, write_spec: Callable[..., Path], executed: list[list[str]]
) -> None:
    import os

    from autodl.search.loop import SearchStart
    from autodl.tracking.runs import MlflowTracker

    MlflowTracker("sqlite:///mlruns/mlflow.db", "dev_accuracy").search_started(
        SearchStart("tiny", "", {}, total=1, done=0))
    result = runner.invoke(app, ["ui", str(write_spec(minimal_spec())), "--port", "5099"])
    assert result.exit_code == 0, result.output
    assert "MLflow UI on http://127.0.0.1:5099 (Ctrl-C to stop)" in result.output
    assert ("Experiment tiny: http://127.0.0.1:5099/#/experiments/1/runs?workflowType=machine_learning"
            in result.output.splitlines())
    assert executed == [[sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", "sqlite:///mlruns/mlflow.db",
                         "--host", "127.0.0.1", "--port", "5099"]]
    assert os.environ["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    bare = runner.invoke(app, ["ui"])
    assert "Experiments: http://127.0.0.1:5000/#/experiments?workflowType=machine_learning" in bare.output


def test_ui_with_a_spec_that_logged_nothing_says_why(
    runner: CliRunner, project: Path, write_spec: Callable[..., Path], executed: list[list[str]]
) -> None:
    from autodl.tracking.runs import MlflowTracker

    MlflowTracker("sqlite:///mlruns/mlflow.db", "dev_accuracy")
    missing = runner.invoke(app, ["ui", str(write_spec(minimal_spec(name="never")))])
    assert missing.exit_code == 2
    assert missing.output.replace("\n", "") == (
        "Error: No MLflow experiment 'never' in sqlite:///mlruns/mlflow.db (it holds 'Default'): run "
        "`autodl search SPEC` first, or pass --tracking-uri of the store it logged to.")
    off = write_spec(minimal_spec(tracking={"enabled": False}), name="off.yaml")
    disabled = runner.invoke(app, ["ui", str(off)])
    assert disabled.exit_code == 2
    assert "sets tracking.enabled: false, so its search logged nothing to MLflow." in disabled.output
    assert executed == []


def test_dashboard_serves_the_specs_study_and_prints_its_page(
    runner: CliRunner, project: Path, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("optuna_dashboard")
    served: list[tuple[Any, str, int]] = []
    monkeypatch.setattr("autodl.report.dashboard.serve",
                        lambda storage, host, port: served.append((storage, host, port)))
    path = write_spec(minimal_spec(name="fake", **REPORT_SPACE_NO_TRACKING))
    missing = runner.invoke(app, ["dashboard", str(path)])
    assert missing.exit_code == 2
    assert missing.output.replace("\n", "").startswith("Error: No study 'fake' in sqlite:///mlruns/optuna.db (the "
                                                       "database mlruns/optuna.db does not exist)")
    searched(make_report_spec(write_spec), project / "mlruns")
    result = runner.invoke(app, ["dashboard", str(path), "--port", "8099"])
    assert result.exit_code == 0, result.output
    assert "optuna-dashboard on http://127.0.0.1:8099 for sqlite:///mlruns/optuna.db (Ctrl-C to stop)" in result.output
    assert "Study fake: http://127.0.0.1:8099/dashboard/studies/1" in result.output.splitlines()
    assert len(served) == 1 and served[0][1:] == ("127.0.0.1", 8099)
    assert served[0][0].get_all_studies()[0].study_name == "fake"


def test_dashboard_without_its_package_or_storage_says_what_to_do(
    runner: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    nothing = runner.invoke(app, ["dashboard"])
    if real("optuna_dashboard") is not None:
        assert nothing.exit_code == 2
        assert nothing.output.replace("\n", "") == (
            "Error: No Optuna storage at mlruns/optuna.db: run `autodl search SPEC` first, or pass --storage.")
    monkeypatch.setattr("autodl.report.dashboard.importlib.util.find_spec",
                        lambda name: None if name == "optuna_dashboard" else real(name))
    absent = runner.invoke(app, ["dashboard"])
    assert absent.exit_code == 2
    assert absent.output.strip() == "Error: optuna-dashboard is not installed: pip install 'autodl[dashboard]'"


def test_sample_shows_what_the_search_will_try_first(runner: CliRunner, tmp_path: Path) -> None:
    import optuna

    from autodl.search.sampling import sample_config
    from autodl.search.study import open_study
    from autodl.spec.document import load_spec

    path = REPO / "search_spaces" / "digits_cnn.yaml"
    result = runner.invoke(app, ["sample", str(path), "-n", "4", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "sample,model.blocks,model.filters,model.kernel_size,model.dropout,model.dense_units,"
        "optimizer.learning_rate,training.batch_size"
    )
    spec = load_spec(path)
    study = open_study(spec, f"sqlite:///{tmp_path / 's.db'}")
    for i in range(4):
        trial = study.ask()
        sample = sample_config(spec, trial)
        row = lines[1 + i].split(",")
        assert int(row[0]) == i
        assert int(row[2]) == sample.params["model.filters"]
        assert float(row[6]) == sample.params["optimizer.learning_rate"]
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def test_sample_leaves_inactive_parameters_blank(runner: CliRunner, write_spec: Callable[..., Path]) -> None:
    path = write_spec(minimal_spec(optimizer={
        "name": {"choice": ["adam", "sgd"]},
        "momentum": {"float": [0.5, 0.9], "when": {"optimizer.name": "sgd"}},
        "learning_rate": 0.01,
    }))
    csv_out = runner.invoke(app, ["sample", str(path), "-n", "30", "--format", "csv"])
    assert csv_out.exit_code == 0, csv_out.output
    header, *rows = [line.split(",") for line in csv_out.output.splitlines()]
    assert header == ["sample", "optimizer.name", "optimizer.momentum"]
    assert {row[1] for row in rows} == {"adam", "sgd"}
    for row in rows:
        assert (row[2] == "") == (row[1] == "adam")
    table = runner.invoke(app, ["sample", str(path), "-n", "30"])
    assert table.exit_code == 0 and "optimizer.momentum" in table.output
    import re

    adam_rows = [line for line in table.output.splitlines() if re.search(r"│\s+adam │", line)]
    assert adam_rows and all(re.search(r"│\s+- │$", line.rstrip()) for line in adam_rows)


def test_sample_of_a_fixed_spec_says_so(runner: CliRunner, write_spec: Callable[..., Path]) -> None:
    path = write_spec(minimal_spec(optimizer={"learning_rate": 0.001}))
    result = runner.invoke(app, ["sample", str(path)])
    assert result.exit_code == 2
    assert result.output.replace("\n", "") == (
        f"Error: {path} searches nothing: every hyperparameter has a fixed value."
    )


def test_sample_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from autodl.cli import app\n"
        f"r = CliRunner().invoke(app, ['sample', r'{REPO / 'search_spaces' / 'sentiment_lstm.yaml'}', '-n', '3'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print([m for m in ('tensorflow', 'keras', 'mlflow') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_schema_accepts_the_shipped_specs_and_rejects_mistakes(runner: CliRunner) -> None:
    import json

    import jsonschema
    import yaml

    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    for path in sorted((REPO / "search_spaces").glob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert errors == [], (path.name, [e.message for e in errors])
    good = minimal_spec(optimizer={"name": {"choice": ["adam", "sgd"]},
                                   "momentum": {"float": [0.8, 0.99], "scale": "inv_log",
                                                "when": {"optimizer.name": "sgd"}}},
                        model={"family": "cnn", "batch_norm": {"bool": True}})
    assert list(validator.iter_errors(good)) == []
    for bad in (
        minimal_spec(model={"family": "cnn", "filtres": 3}),
        minimal_spec(optimizer={"learning_rate": {"float": [1e-4, 0.1], "scale": "log10"}}),
        minimal_spec(model={"family": "lstm"}),
        minimal_spec(training={"epochs": 0}),
        {"name": "x", "model": {"family": "cnn"}},
    ):
        assert list(validator.iter_errors(bad)), bad


def test_validate_does_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from autodl.cli import app\n"
        f"r = CliRunner().invoke(app, ['validate', r'{REPO / 'search_spaces' / 'digits_cnn.yaml'}'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'mlflow', 'optuna') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


MARKING_MODULE = """
    from pathlib import Path
    Path(__file__).with_name("imported.marker").write_text("yes")

    def build(hp):
        raise RuntimeError("never built in this test")
"""


def test_validate_and_sample_never_import_the_module(tmp_path: Path, runner: CliRunner) -> None:
    write_module(tmp_path, "marking_builder", MARKING_MODULE)
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: c\ndata: {source: digits}\nmodel: {family: custom, build: 'marking_builder:build'}\n")
    assert runner.invoke(app, ["validate", str(spec)]).exit_code == 0
    sampled = runner.invoke(app, ["sample", str(spec)])
    assert sampled.exit_code == 2 and "sample cannot preview them" in sampled.output.replace("\n", "")
    assert not (tmp_path / "imported.marker").exists()


def test_report_imports_neither_tensorflow_nor_mlflow(write_spec: Callable[..., Path], project: Path) -> None:
    searched(make_report_spec(write_spec, trials=2), project / "mlruns")
    code = (
        "import sys\nfrom typer.testing import CliRunner\nfrom autodl.cli import app\n"
        "r = CliRunner().invoke(app, ['report', '--study', 'fake'])\nassert r.exit_code == 0, r.output\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'mlflow'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_search_passes_urls_to_its_workers_in_the_environment(
    write_spec, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autodl import cli, pipeline

    seen: dict[str, Any] = {}

    def fake_run_search(spec: Any, quiet: bool, workers: Workers | None, warm_start: Any = None) -> None:
        seen["workers"] = workers
        raise AutodlError("stop here")

    monkeypatch.setattr(pipeline, "run_search", fake_run_search)
    spec = write_spec({"name": "tiny", "data": {"source": "digits"}, "model": {"family": "cnn"}})
    url = "postgresql://user:secret@db/studies"
    result = runner.invoke(cli.app, ["search", str(spec), "--workers", "3", "--storage", url,
                                     "--trials", "7", "--set", "training.epochs=2", "--quiet"])
    assert result.exit_code == 2 and "stop here" in result.output
    pool = seen["workers"]
    assert pool.count == 3
    assert pool.command == [sys.executable, "-m", "autodl", "worker", str(spec), "--trials", "7",
                            "--set", "training.epochs=2", "--quiet"]
    assert pool.env == {"AUTODL_STORAGE": url}


# --- exit codes: internal errors (3), searches that fall short (1), missing studies (2) -----------


@pytest.fixture
def error_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The system temp folder, where internal errors' logs go, moved into this test's folder; the
    ``autodl`` logger's level (``--verbose`` changes it) restored afterwards."""
    import logging
    import tempfile

    from autodl.runtime.log import logger

    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield folder
    logger.setLevel(level)


@pytest.mark.parametrize(("error", "shown"), [
    (RuntimeError("boom.\nwith a second line"), "RuntimeError: boom"),
    (KeyError("model"), "KeyError: 'model'"),
    (ValueError(), "ValueError"),
])
def test_an_internal_error_is_one_line_exit_3_and_a_log_file(
    error: Exception, shown: str, error_logs: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(path: Path) -> None:
        raise error

    monkeypatch.setattr("autodl.spec.load_spec", broken)
    result = runner.invoke(app, ["validate", str(REPO / "search_spaces" / "digits_cnn.yaml")])
    assert result.exit_code == 3
    [log] = error_logs.glob("autodl-error-*.log")
    assert result.output == (
        f"autodl hit an internal error (a bug): {shown}. The traceback is in {log}; please report it.\n"
    )
    text = log.read_text()
    assert text.startswith("autodl 0.1.0, Python ") and "\ncommand: " in text
    assert "Traceback (most recent call last):" in text and "in broken" in text
    assert text.rstrip().endswith(shown if shown != "RuntimeError: boom" else "with a second line")


def test_verbose_prints_the_internal_errors_traceback_too(
    error_logs: Path, runner: CliRunner, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(spec: Any, quiet: bool, workers: Any, warm_start: Any = None) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("autodl.pipeline.run_search", broken)
    path = write_spec(minimal_spec(tracking={"enabled": False}))
    quiet = runner.invoke(app, ["search", str(path), "--quiet"])
    assert quiet.exit_code == 3 and "Traceback" not in quiet.output
    loud = runner.invoke(app, ["search", str(path), "--verbose"])
    assert loud.exit_code == 3
    first, *rest = loud.output.splitlines()
    assert first.startswith("autodl hit an internal error (a bug): ZeroDivisionError: division by zero. "
                            "The traceback is in ")
    assert rest[0] == "autodl: Traceback (most recent call last):"
    assert rest[-1] == "ZeroDivisionError: division by zero"
    assert len(list(error_logs.glob("autodl-error-*.log"))) == 2


def test_an_internal_error_without_a_writable_log_prints_the_traceback(
    error_logs: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(error_logs / "gone"))
    monkeypatch.setattr("autodl.spec.json_schema", lambda: {"bad": object()})
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 3
    first, *rest = result.output.splitlines()
    assert first == ("autodl hit an internal error (a bug): TypeError: Object of type object is not JSON "
                     "serializable. The traceback follows (no log file could be written); please report it.")
    assert rest[0] == "Traceback (most recent call last):"


def test_exits_and_usage_errors_keep_their_own_codes(
    runner: CliRunner, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    import typer

    def interrupted(spec: Any, quiet: bool, workers: Any, warm_start: Any = None) -> None:
        raise typer.Exit(130)

    monkeypatch.setattr("autodl.pipeline.run_search", interrupted)
    path = write_spec(minimal_spec(tracking={"enabled": False}))
    assert runner.invoke(app, ["search", str(path)]).exit_code == 130
    usage = runner.invoke(app, ["search", str(path), "--workers", "zero"])
    assert usage.exit_code == 2 and "internal error" not in usage.output


def failed_search(write_spec: Callable[..., Path], tmp_path: Path, **search: Any) -> Any:
    """The summary of a fake search whose trials only fail (3 of one reason, 2 of another), or, with
    ``constraints``, only break them."""
    from autodl.outcome import TrialOutcome
    from autodl.results.summary import SearchSummary
    from autodl.search.loop import optimize
    from tests.helpers import make_spec, new_study

    spec = make_spec(write_spec, **search)
    reasons = iter(["ValueError: bad shape", "loss became nan at epoch 1"] * 10)

    def objective(config: Any, seed: int, should_prune: Any, listeners: Any, suggest: Any) -> TrialOutcome:
        if "constraints" in search:
            return TrialOutcome("complete", value=0.9, metrics={"dev_accuracy": 0.9, "params": 5000.0})
        return TrialOutcome("failed", reason=next(reasons))

    result = optimize(spec, new_study(spec, tmp_path), objective, [], lambda t, o: None)
    return SearchSummary(spec, None, result, None, None, tmp_path / "best", "sqlite:///study.db", None, None)  # type: ignore[arg-type]


def test_a_search_without_a_complete_trial_exits_1_with_the_reasons(
    runner: CliRunner, write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = failed_search(write_spec, tmp_path, trials=6)
    monkeypatch.setattr("autodl.pipeline.run_search", lambda spec, quiet, workers, warm_start=None: summary)
    result = runner.invoke(app, ["search", str(write_spec(minimal_spec(tracking={"enabled": False}))), "-q"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "tiny: stopped (5 trials failed in a row, search.max_failed_trials); 0 complete, 0 pruned, 5 "
        "failed (5 run now).",
        "No trial completed: 5 failed with 'ValueError: bad shape' (3), 'loss became nan at epoch 1' (2). "
        "There is no best model. Run with --verbose for the tracebacks.",
    ]


def test_a_search_with_only_infeasible_trials_exits_1_with_the_constraints(
    runner: CliRunner, write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = failed_search(write_spec, tmp_path, trials=2, constraints={"params": 1000})
    monkeypatch.setattr("autodl.pipeline.run_search", lambda spec, quiet, workers, warm_start=None: summary)
    result = runner.invoke(app, ["search", str(write_spec(minimal_spec(tracking={"enabled": False}))), "-q"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "No feasible trial completed: 2 broke search.constraints on 'params' (2). There is no best model."
    )


def test_a_worker_without_a_complete_trial_exits_1(
    runner: CliRunner, write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = failed_search(write_spec, tmp_path, trials=6)
    monkeypatch.setattr("autodl.pipeline.run_worker", lambda spec, quiet: summary.result)
    result = runner.invoke(app, ["worker", str(write_spec(minimal_spec(tracking={"enabled": False})))])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "autodl: No trial completed: 5 failed with 'ValueError: bad shape' (3), 'loss became nan at "
        "epoch 1' (2). There is no best model. Run with --verbose for the tracebacks."
    )


def test_a_real_search_whose_model_never_builds_exits_1(
    runner: CliRunner, write_spec: Callable[..., Path], tmp_path: Path, project: Path,
) -> None:
    """End to end in about 15 s: a custom build(hp) that always raises."""
    write_module(tmp_path, "never_builds", """
        def build(hp):
            hp.Int("units", 8, 32)
            raise ValueError("no model today")
    """)
    path = write_spec(minimal_spec(name="never", model={"family": "custom", "build": "never_builds:build"},
                                   training={"epochs": 1}, search={"trials": 3}, tracking={"enabled": False}))
    result = runner.invoke(app, ["search", str(path), "--quiet"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert "never: stopped (reached 3 trials); 0 complete, 0 pruned, 3 failed (3 run now)." in lines
    last = lines[-1]
    assert last.startswith("No trial completed: 3 failed with '") and "no model today" in last
    assert last.endswith("(3). There is no best model. Run with --verbose for the tracebacks.")
    import optuna

    study = optuna.load_study(study_name="never", storage=f"sqlite:///{project / 'mlruns' / 'optuna.db'}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 3


def tree(folder: Path) -> list[str]:
    """Every path under ``folder``, relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", ["report", "export"])
def test_report_and_export_of_a_search_that_never_ran_exit_2_and_create_nothing(
    command: str, runner: CliRunner, write_spec: Callable[..., Path], project: Path,
) -> None:
    path = write_spec(minimal_spec(name="never-ran"))
    before = tree(project)
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 2, result.output
    flat = result.output.replace("\n", "")
    assert "No study 'never-ran' in sqlite:///mlruns/optuna.db (the database mlruns/optuna.db does not exist)" in flat
    assert tree(project) == before, "no mlruns/, optuna.db, reports/ or best_model/"


@pytest.mark.parametrize("command", ["report", "export"])
def test_report_and_export_of_a_missing_study_list_the_stored_ones(
    command: str, runner: CliRunner, write_spec: Callable[..., Path], project: Path,
) -> None:
    searched(make_report_spec(write_spec, trials=1), project / "mlruns")
    path = write_spec(minimal_spec(name="other", tracking={"enabled": False}), name="other.yaml")
    db = project / "mlruns" / "optuna.db"
    stamp = db.stat().st_mtime_ns
    before = tree(project)
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 2, result.output
    assert "No study 'other' in sqlite:///mlruns/optuna.db (it holds 'fake')" in result.output.replace("\n", "")
    assert tree(project) == before and db.stat().st_mtime_ns == stamp


def test_report_on_a_database_that_is_not_optunas_adds_no_tables(runner: CliRunner, project: Path) -> None:
    import sqlite3

    db = project / "mlflow.db"
    sqlite3.connect(db).execute("create table runs (id text)").connection.commit()
    result = runner.invoke(app, ["report", "--study", "x", "--storage", f"sqlite:///{db}"])
    assert result.exit_code == 2
    assert f"No study 'x' in sqlite:///{db} (it holds no study)" in result.output.replace("\n", "")
    tables = sqlite3.connect(db).execute("select name from sqlite_master").fetchall()
    assert tables == [("runs",)]


@pytest.mark.parametrize("command", ["validate", "search", "worker", "sample", "diagnose", "export", "report"])
@pytest.mark.parametrize("kind", ["folder", "binary", "latin-1"])
def test_every_spec_command_refuses_a_bad_spec_file_in_one_line(
    command: str, kind: str, runner: CliRunner, tmp_path: Path, project: Path,
) -> None:
    path = tmp_path / "spec.yaml"
    if kind == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" if kind == "binary" else b"name: caf\xe9\n")
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 2
    [line] = result.output.splitlines()
    assert line.startswith(f"Error: {path} is ")


def test_a_file_that_cannot_be_written_is_an_input_problem(
    runner: CliRunner, write_spec: Callable[..., Path], project: Path,
) -> None:
    searched(make_report_spec(write_spec, trials=2), project / "mlruns")
    (project / "taken").write_text("a file where the report's folder should be")
    result = runner.invoke(app, ["report", "--study", "fake", "--html", "taken/report.html"])
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Cannot use taken: File exists. Check the path, its permissions and the free disk space."
    )


def test_sample_defaults_prints_the_default_configuration(runner: CliRunner, write_spec: Callable[..., Path],
                                                          tmp_path: Path) -> None:
    path = write_spec(minimal_spec(
        model={"family": "mlp", "units": {"choice": [16, 64]}, "dropout": {"float": [0.1, 0.5]}},
        optimizer={"name": {"choice": ["adam", "sgd"]}, "learning_rate": {"float": [1e-4, 1e-2], "scale": "log"},
                   "momentum": {"float": [0.5, 0.9], "when": {"optimizer.name": "sgd"}}},
    ))
    result = runner.invoke(app, ["sample", str(path), "--defaults", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "sample,model.units,model.dropout,optimizer.name,optimizer.learning_rate", "0,64,0.3,adam,0.001"]
    write_module(tmp_path, "defaults_builder", """
        def build(hp):
            kind = hp.Choice("kind", ["wide", "deep"], default="deep")
            with hp.conditional_scope("kind", ["wide"]):
                hp.Int("width", 8, 64)
            hp.Int("depth", 1, 4, parent_name="kind", parent_values=["deep"])
            hp.Float("rate", 1e-4, 1e-2, sampling="log", default=1e-3)
    """)
    custom = tmp_path / "custom.yaml"
    custom.write_text("name: c\ndata: {source: digits}\nmodel: {family: custom, build: 'defaults_builder:build'}\n")
    result = runner.invoke(app, ["sample", str(custom), "--defaults", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["sample,model.kind,model.depth,model.rate", "0,deep,1,0.001"]
