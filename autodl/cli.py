"""The ``autodl`` command line: thin wrappers that parse options and call the stages.

Heavy libraries (TensorFlow, Keras, MLflow, Optuna) are imported inside commands, so ``--help``
and ``validate`` stay instant. Every ``AutodlError`` ends as one message and exit code 2.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from autodl import __version__
from autodl.errors import AutodlError
from autodl.log import configure, logger, stderr_console, stdout_console

app = typer.Typer(
    name="autodl",
    help="Find good Keras models (CNN, RNN, MLP) for your data from one YAML spec.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SpecArg = Annotated[Path, typer.Argument(help="The YAML search-space spec.", dir_okay=False)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only the final report and errors.")]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn known errors into one message on stderr and exit code 2."""
    try:
        yield
    except AutodlError as exc:
        stderr_console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        stdout_console.print(f"autodl {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Find good Keras models (CNN, RNN, MLP) for your data from one YAML spec."""


@app.command()
def search(
    spec: SpecArg,
    data: Annotated[
        Optional[str],
        typer.Option(help="Use this instead of data.source: a file or folder, digits, or keras:<name>."),
    ] = None,
    trials: Annotated[
        Optional[int], typer.Option(min=1, help="Total trials in the study (overrides search.trials).")
    ] = None,
    timeout: Annotated[
        Optional[float], typer.Option(min=1, help="Seconds after which no new trial starts.")
    ] = None,
    tracking_uri: Annotated[
        Optional[str], typer.Option(help="MLflow tracking URI (overrides tracking.uri).")
    ] = None,
    storage: Annotated[
        Optional[str], typer.Option(help="Optuna storage URL, e.g. postgresql://host/db.")
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Overrides the spec's seed.")] = None,
    quiet: QuietOpt = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs and tracebacks.")] = False,
) -> None:
    """Run (or resume) the search a spec describes, log it to MLflow, save the best model."""
    configure(quiet)
    if verbose:
        logger.setLevel(logging.DEBUG)
    with user_errors():
        from autodl.data.sources import command_line_source
        from autodl.spec import load_spec

        loaded = load_spec(spec).with_overrides(
            **{
                "data.source": command_line_source(data) if data is not None else None,
                "search.trials": trials,
                "search.timeout": timeout,
                "search.storage": storage,
                "tracking.uri": tracking_uri,
                "seed": seed,
            }
        )
        from autodl.data import resolve

        resolve(loaded.data.source, loaded.base_dir)
        from autodl.pipeline import run_search
        from autodl.report import print_summary

        summary = run_search(loaded, quiet=quiet)
        print_summary(summary, stdout_console)
        if summary.result.stop_reason == "interrupted":
            raise typer.Exit(130)


@app.command()
def validate(spec: SpecArg) -> None:
    """Check a spec (fields, ranges, data location) without importing TensorFlow."""
    with user_errors():
        from autodl.data.sources import resolve
        from autodl.space import describe
        from autodl.spec import load_spec

        loaded = load_spec(spec)
        resolve(loaded.data.source, loaded.base_dir)
        searched = loaded.searched()
        custom = (
            f" plus those its {loaded.model.build} defines"
            if loaded.model.family == "custom" else ""
        )
        stdout_console.print(
            f"{spec} is valid: {loaded.model.family} on {loaded.data.source}, "
            f"{len(searched)} searched hyperparameters{custom}, {loaded.search.trials} "
            f"trial{'s' if loaded.search.trials != 1 else ''} "
            f"({loaded.search.strategy}, pruner {loaded.search.pruner.name}).",
            highlight=False,
            markup=False,
        )
        for name, dist in searched.items():
            stdout_console.print(f"  {name}: {describe(dist)}", highlight=False, markup=False)


class SampleFormat(str, Enum):
    """Output formats of ``autodl sample``."""

    table = "table"
    csv = "csv"


@app.command()
def sample(
    spec: SpecArg,
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="How many configurations.")] = 10,
    output_format: Annotated[
        SampleFormat, typer.Option("--format", help="table or csv.")
    ] = SampleFormat.table,
) -> None:
    """Print the configurations the search would try first, without training anything."""
    with user_errors():
        from autodl.report import print_samples
        from autodl.search import preview
        from autodl.spec import load_spec

        loaded = load_spec(spec)
        names = [p.name for p in loaded.parameters() if p.searched]
        if loaded.model.family == "custom":
            raise AutodlError(
                f"{spec}: a custom model's hyperparameters come from its build(hp), which only "
                "`autodl search` imports; sample cannot preview them."
            )
        if not names:
            raise AutodlError(f"{spec} searches nothing: every hyperparameter has a fixed value.")
        rows = [s.params for s in preview(loaded, n)]
        print_samples(rows, names, stdout_console, output_format.value)


@app.command()
def schema() -> None:
    """Print the spec's JSON Schema (for editor completion and inline errors)."""
    import json

    from autodl.spec import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@app.command()
def ui(
    tracking_uri: Annotated[
        str, typer.Option(help="The MLflow store to browse.")
    ] = "sqlite:///mlruns/mlflow.db",
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps it private.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the UI.")] = 5000,
) -> None:
    """Start the MLflow UI on the project's store (Ctrl-C stops it)."""
    from autodl.stores import sqlite_path

    db = sqlite_path(tracking_uri)
    with user_errors():
        if db is not None and not db.is_file():
            raise AutodlError(
                f"No MLflow store at {db}: run `autodl search SPEC` first, or pass --tracking-uri."
            )
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri,
               "--host", host, "--port", str(port)]
    stderr_console.print(f"MLflow UI on http://{host}:{port} (Ctrl-C to stop)", markup=False)
    sys.stderr.flush()
    sys.stdout.flush()
    os.execv(sys.executable, command)


def main() -> None:
    """Console-script entry point."""
    app()
