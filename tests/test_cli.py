"""The CLI's fast paths: help, validate, sample, schema, bad input ending in one message and exit
code 2, what each fast command leaves unimported, and the options passed on to workers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from autodl.cli import app
from autodl.errors import AutodlError
from autodl.search.workers import Workers
from tests.helpers import REPO, make_report_spec, minimal_spec, searched, write_module


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

    def fake_run_search(spec: Any, quiet: bool, workers: Workers | None) -> None:
        seen["workers"] = workers
        raise AutodlError("stop here")

    monkeypatch.setattr(pipeline, "run_search", fake_run_search)
    spec = write_spec({"name": "tiny", "data": {"source": "digits"}, "model": {"family": "cnn"}})
    url = "postgresql://user:secret@db/studies"
    result = runner.invoke(cli.app, ["search", str(spec), "--workers", "3", "--storage", url,
                                     "--trials", "7", "--quiet"])
    assert result.exit_code == 2 and "stop here" in result.output
    pool = seen["workers"]
    assert pool.count == 3
    assert pool.command == [sys.executable, "-m", "autodl", "worker", str(spec), "--trials", "7",
                            "--quiet"]
    assert pool.env == {"AUTODL_STORAGE": url}
