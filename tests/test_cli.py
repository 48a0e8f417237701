"""The CLI's fast paths: help, validate, and bad input ending in one message and exit code 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autodl.cli import app
from tests.conftest import REPO, minimal_spec


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
