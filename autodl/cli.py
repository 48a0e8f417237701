"""The ``autodl`` command line: thin wrappers that parse options and call the stages.

Heavy libraries (TensorFlow, Keras, MLflow, Optuna) are imported inside commands, so ``--help``
and ``validate`` stay instant. Every command ends with one of the exit codes below: an
``AutodlError`` as one message and ``EXIT_USER_ERROR``, any other exception (a bug) as one line,
its traceback in a log file, and ``EXIT_INTERNAL_ERROR``.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from typer.core import TyperGroup

from autodl import __version__
from autodl.errors import AutodlError, first_line
from autodl.runtime.log import configure, logger, stderr_console, stdout_console

EXIT_FELL_SHORT = 1
"""The search ended without a feasible complete trial, or gave up after failures in a row."""
EXIT_USER_ERROR = 2
"""A problem with the input (spec, data, options, an unreachable server): one message says what to fix."""
EXIT_INTERNAL_ERROR = 3
"""A bug in autodl: one line, the traceback in a log file."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (Typer's own code for it); what finished is kept."""
PASS_THROUGH = (typer.Exit, typer.Abort, typer.TyperException)
"""Exceptions that end a command on purpose, with their own message and code (Typer's usage
errors are ``TyperException``s)."""


def write_error_log(exc: BaseException) -> Path | None:
    """Write ``exc``'s traceback, with the command line and versions, to a new file in the system's
    temporary folder (writable when the project folder is not); ``None`` if it cannot be written."""
    try:
        header = (f"autodl {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
                  f"command: {' '.join(sys.argv)}\ncwd: {os.getcwd()}\n\n")
        handle, name = tempfile.mkstemp(prefix=f"autodl-error-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log")
        with os.fdopen(handle, "w", encoding="utf-8") as log:
            log.write(header + "".join(traceback.format_exception(exc)))
    except OSError:
        return None
    return Path(name)


def report_internal_error(exc: Exception) -> None:
    """One line on stderr for a bug, naming the log file that holds its traceback; with
    ``--verbose`` the ``autodl`` logger shows the traceback too (and stderr does when no log file
    could be written)."""
    what = f"{type(exc).__name__}: {first_line(exc).rstrip('.')}" if str(exc).strip() else type(exc).__name__
    log = write_error_log(exc)
    where = f"The traceback is in {log}" if log else "The traceback follows (no log file could be written)"
    stderr_console.print(f"autodl hit an internal error (a bug): {what}. {where}; please report it.",
                         markup=False, highlight=False)
    text = "".join(traceback.format_exception(exc)).rstrip()
    if log is None:
        sys.stderr.write(text + "\n")
    else:
        logger.debug("%s", text)


def _user_error(message: str) -> typer.Exit:
    stderr_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False)
    return typer.Exit(EXIT_USER_ERROR)


@contextmanager
def handled_errors() -> Iterator[None]:
    """Known errors as one message and ``EXIT_USER_ERROR``, and so is a file that cannot be read or
    written (an ``OSError`` naming it: permissions, a full disk, a file where a folder should be);
    any other exception as a reported internal error and ``EXIT_INTERNAL_ERROR``. Exits, Click's
    usage errors and Ctrl-C pass."""
    try:
        yield
    except PASS_THROUGH:
        raise
    except AutodlError as exc:
        raise _user_error(str(exc)) from None
    except Exception as exc:
        if isinstance(exc, OSError) and exc.filename is not None:
            raise _user_error(
                f"Cannot use {exc.filename}: {exc.strerror or type(exc).__name__}. Check the path, its "
                "permissions and the free disk space."
            ) from None
        report_internal_error(exc)
        raise typer.Exit(EXIT_INTERNAL_ERROR) from None


class Commands(TyperGroup):
    """The command group: every command runs inside ``handled_errors``."""

    def invoke(self, ctx: Any) -> Any:  # Typer's vendored click Context, not public
        with handled_errors():
            return super().invoke(ctx)


app = typer.Typer(
    name="autodl",
    help="Find good Keras models (CNN, RNN, MLP) for your data from one YAML spec.",
    cls=Commands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SpecArg = Annotated[Path, typer.Argument(help="The YAML search-space spec.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only the final report and errors.")]


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


DataOpt = Annotated[
    Optional[str],
    typer.Option(help="Use this instead of data.source: a file or folder, digits, or keras:<name>."),
]
TrialsOpt = Annotated[
    Optional[int], typer.Option(min=1, help="Total trials in the study (overrides search.trials).")
]
TimeoutOpt = Annotated[
    Optional[float], typer.Option(min=1, help="Seconds after which no new trial starts.")
]
TrackingOpt = Annotated[
    Optional[str],
    typer.Option(envvar="AUTODL_TRACKING_URI", help="MLflow tracking URI (overrides tracking.uri)."),
]
StorageOpt = Annotated[
    Optional[str],
    typer.Option(envvar="AUTODL_STORAGE", help="Optuna storage URL, e.g. postgresql://host/db."),
]
SeedOpt = Annotated[Optional[int], typer.Option(help="Overrides the spec's seed.")]
SetOpt = Annotated[
    Optional[list[str]],
    typer.Option("--set", metavar="KEY=VALUE", help="Change one spec field for this run, e.g. --set "
                 "training.epochs=3 (VALUE as written in YAML; a relative path is relative to the spec "
                 "file, as in it); repeat for more. The options above win over it."),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs and tracebacks.")]


def _load(
    spec: Path, data: str | None, trials: int | None, timeout: float | None,
    tracking_uri: str | None, storage: str | None, seed: int | None, sets: list[str] | None,
) -> Any:
    """The spec with the command line's overrides (``--set`` first, the named options over it),
    its data source checked."""
    from autodl.data.sources import command_line_source, resolve

    loaded = _with_sets(spec, sets).with_overrides(
        **{
            "data.source": command_line_source(data) if data is not None else None,
            "search.trials": trials,
            "search.timeout": timeout,
            "search.storage": storage,
            "tracking.uri": tracking_uri,
            "seed": seed,
        }
    )
    resolve(loaded.data.source, loaded.base_dir)
    return loaded


def _with_sets(spec: Path, sets: list[str] | None) -> Any:
    """The spec file with its ``--set`` assignments applied and validated."""
    from autodl.spec import load_spec
    from autodl.spec.overrides import parse_assignments

    loaded = load_spec(spec)
    return loaded.with_overrides(**parse_assignments(sets)) if sets else loaded


def _start(quiet: bool, verbose: bool, label: str | None = None) -> None:
    configure(quiet, label)
    if verbose:
        logger.setLevel(logging.DEBUG)


@app.command()
def search(
    spec: SpecArg,
    data: DataOpt = None,
    trials: TrialsOpt = None,
    timeout: TimeoutOpt = None,
    tracking_uri: TrackingOpt = None,
    storage: StorageOpt = None,
    seed: SeedOpt = None,
    sets: SetOpt = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes on this machine sharing the study (one GPU "
                          "each when there are GPUs, the CPU cores shared otherwise).")
    ] = 1,
    warm_start: Annotated[
        Optional[str], typer.Option(help="Queue the best configurations of this earlier study first "
                                    "(their values that fit this spec's space).")
    ] = None,
    warm_storage: Annotated[
        Optional[str], typer.Option(help="The Optuna storage of the --warm-start study (default: this "
                                    "search's).")
    ] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run (or resume) the search a spec describes, log it to MLflow, save the best model."""
    _start(quiet, verbose)
    loaded = _load(spec, data, trials, timeout, tracking_uri, storage, seed, sets)
    from autodl.pipeline import run_search
    from autodl.report.terminal import print_summary
    from autodl.search.workers import Workers

    pool = None
    if workers > 1 or loaded.runtime.trials_per_process is not None:
        given = {"--data": data, "--trials": trials, "--timeout": timeout, "--seed": seed}
        command = [sys.executable, "-m", "autodl", "worker", str(spec)]
        command += [part for flag, value in given.items() if value is not None
                    for part in (flag, str(value))]
        command += [part for item in sets or [] for part in ("--set", item)]
        command += ["--quiet"] * quiet + ["--verbose"] * verbose
        urls = {"AUTODL_STORAGE": storage, "AUTODL_TRACKING_URI": tracking_uri}
        pool = Workers(workers, command, {k: v for k, v in urls.items() if v is not None})
    if warm_storage is not None and warm_start is None:
        raise typer.BadParameter("--warm-storage names the storage of a --warm-start study; give "
                                 "--warm-start STUDY as well.", param_hint="--warm-storage")
    summary = run_search(loaded, quiet=quiet, workers=pool,
                         warm_start=(warm_start, warm_storage) if warm_start else None)
    print_summary(summary, stdout_console)
    if summary.result.stop_reason == "interrupted":
        raise typer.Exit(EXIT_INTERRUPTED)
    if summary.result.fell_short:
        raise typer.Exit(EXIT_FELL_SHORT)


@app.command()
def worker(
    spec: SpecArg,
    data: DataOpt = None,
    trials: TrialsOpt = None,
    timeout: TimeoutOpt = None,
    tracking_uri: TrackingOpt = None,
    storage: StorageOpt = None,
    seed: SeedOpt = None,
    sets: SetOpt = None,
    label: Annotated[Optional[str], typer.Option(help="Prefix of this worker's log lines.")] = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Join a search's study as one more worker (on this or another machine) and run trials
    until its budget is spent. Use the same spec, --storage and --tracking-uri as the search."""
    _start(quiet, verbose, label)
    loaded = _load(spec, data, trials, timeout, tracking_uri, storage, seed, sets)
    from autodl.pipeline import run_worker
    from autodl.report.terminal import shortfall_text

    result = run_worker(loaded, quiet=quiet)
    logger.info("stopped (%s) after %d trials here", result.stop_reason, result.ran)
    if result.stop_reason == "interrupted":
        raise typer.Exit(EXIT_INTERRUPTED)
    shortfall = shortfall_text(result)
    if shortfall:
        logger.warning("%s", shortfall)
        raise typer.Exit(EXIT_FELL_SHORT)


@app.command()
def diagnose(
    spec: SpecArg,
    data: DataOpt = None,
    tracking_uri: TrackingOpt = None,
    storage: StorageOpt = None,
    sets: SetOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Would more data help? Retrain the best configuration on growing shares of train, plot the
    learning curve, and redo the diagnosis with it."""
    _start(quiet, verbose)
    loaded = _load(spec, data, None, None, tracking_uri, storage, None, sets)
    from rich.markdown import Markdown

    from autodl.pipeline import run_diagnose
    from autodl.results.learning_curve import CURVE_FILE
    from autodl.results.record import INFO_FILE

    found = run_diagnose(loaded)
    stdout_console.print(Markdown(found.diagnosis.report()), soft_wrap=False)
    stdout_console.print(f"Learning curve: {found.directory / CURVE_FILE} (record: "
                         f"{found.directory / INFO_FILE})", markup=False, highlight=False)
    if found.parent_run_id:
        stdout_console.print(f"MLflow: added to run {found.parent_run_id}", markup=False, highlight=False)


@app.command()
def validate(spec: SpecArg, sets: SetOpt = None) -> None:
    """Check a spec (fields, ranges, data location) without importing TensorFlow."""
    from autodl.data.sources import resolve
    from autodl.spec.space import describe

    loaded = _with_sets(spec, sets)
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
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Print the default configuration instead (a custom "
                           "hypermodel's module is imported for it).")
    ] = False,
    sets: SetOpt = None,
) -> None:
    """Print the configurations the search would try first, without training anything."""
    from autodl.report.terminal import print_samples
    from autodl.search.sampling import preview
    from autodl.search.warm import defaults as default_values

    loaded = _with_sets(spec, sets)
    if defaults:
        found = default_values(loaded)[0]
        if not found:
            raise AutodlError(f"{spec} searches nothing: every hyperparameter has a fixed value.")
        print_samples([found], list(found), stdout_console, output_format.value)
        return
    names = [p.name for p in loaded.parameters() if p.searched]
    if loaded.model.family == "custom":
        raise AutodlError(
            f"{spec}: a custom model's hyperparameters come from its build(hp), which only "
            "`autodl search` imports; sample cannot preview them (`autodl sample --defaults` "
            "imports it to print its defaults)."
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
    spec: Annotated[
        Optional[Path], typer.Argument(help="A spec: browse its store and print the address of its experiment.")
    ] = None,
    tracking_uri: Annotated[
        Optional[str], typer.Option(help="The MLflow store to browse (default: the spec's tracking.uri, "
                                    "else sqlite:///mlruns/mlflow.db).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps it private.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the UI.")] = 5000,
) -> None:
    """Start the MLflow UI on the project's store and print where a spec's search is (Ctrl-C stops it)."""
    from autodl.runtime.stores import mask_url
    from autodl.spec import load_spec
    from autodl.spec.sections import DEFAULT_TRACKING_URI
    from autodl.tracking.ui import experiment_page, experiments_page, is_server, ui_command

    uri = tracking_uri or DEFAULT_TRACKING_URI
    name = None
    if spec is not None:
        loaded = load_spec(spec).with_overrides(**{"tracking.uri": tracking_uri})
        if not loaded.tracking.enabled:
            raise AutodlError(f"{spec} sets tracking.enabled: false, so its search logged nothing to MLflow.")
        uri, name = loaded.tracking.uri, loaded.name
    if is_server(uri):
        where = experiment_page(uri, name, uri.rstrip("/")) if name else experiments_page(uri.rstrip("/"))
        stdout_console.print(f"{mask_url(uri)} is an MLflow tracking server with its own UI: {mask_url(where)}",
                             markup=False, highlight=False, soft_wrap=True)
        return
    command = ui_command(uri, host, port)
    base = f"http://{host}:{port}"
    page = experiment_page(uri, name, base) if name else experiments_page(base)
    stderr_console.print(f"MLflow UI on {base} (Ctrl-C to stop)", markup=False, highlight=False)
    stdout_console.print(f"{f'Experiment {name}' if name else 'Experiments'}: {page}", markup=False,
                         highlight=False, soft_wrap=True)
    sys.stderr.flush()
    sys.stdout.flush()
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")  # GenAI jobs: a training store has none
    os.execv(sys.executable, command)


@app.command()
def dashboard(
    spec: Annotated[
        Optional[Path], typer.Argument(help="A spec: serve its study's storage and print the address of its study.")
    ] = None,
    storage: Annotated[
        Optional[str], typer.Option(envvar="AUTODL_STORAGE", help="Optuna storage URL (default: the spec's, "
                                    "else sqlite:///mlruns/optuna.db).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps it private.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the dashboard.")] = 8080,
) -> None:
    """Start optuna-dashboard on a search's study (history, importances, timeline); Ctrl-C stops it.
    Needs the optional extra: pip install 'autodl[dashboard]'."""
    from autodl.report.dashboard import open_storage, require_dashboard, serve, study_page
    from autodl.runtime.stores import default_storage, mask_url, study_storage
    from autodl.spec import load_spec

    require_dashboard()
    url = storage or default_storage(None)
    base = f"http://{host}:{port}"
    where = f"Studies: {base}/dashboard"
    if spec is not None:
        loaded = load_spec(spec)
        url = storage or study_storage(loaded)
        where = f"Study {loaded.name}: {study_page(url, loaded.name, base)}"
    served = open_storage(url)
    stderr_console.print(f"optuna-dashboard on {base} for {mask_url(url)} (Ctrl-C to stop)", markup=False,
                         highlight=False)
    stdout_console.print(where, markup=False, highlight=False, soft_wrap=True)
    sys.stdout.flush()
    serve(served, host, port)


@app.command()
def report(
    spec: Annotated[
        Optional[Path], typer.Argument(help="The spec the study was searched with.")
    ] = None,
    study: Annotated[
        Optional[str], typer.Option(help="The study's name, to report without its spec file.")
    ] = None,
    storage: Annotated[
        Optional[str],
        typer.Option(help="Optuna storage URL (default: the spec's, or sqlite:///mlruns/optuna.db)."),
    ] = None,
    html: Annotated[
        Optional[Path], typer.Option(help="Where to write the HTML report (default: reports/<name>.html).",
                                     dir_okay=False)
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="How many of the best trials to list.")] = 5,
) -> None:
    """Summarize a stored study: trial counts, best trials, stages, importances, diagnosis, plots."""
    from autodl.report.html import default_path, write_html
    from autodl.report.study import load_report
    from autodl.report.terminal import print_study_report

    loaded = load_report(spec, study, storage, top)
    print_study_report(loaded, stdout_console)
    written = write_html(loaded, html or default_path(loaded.name))
    stdout_console.print(f"HTML report: {written}", markup=False, highlight=False)


@app.command()
def export(
    spec: SpecArg,
    formats: Annotated[
        Optional[list[str]],
        typer.Option("--formats", "-f", help="keras, saved_model, tflite, onnx or all; repeat the "
                     "option or separate with commas (default: all)."),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option(help="Folder to write (default: best_model/<name>/export).", file_okay=False),
    ] = None,
    retrain: Annotated[
        Optional[bool],
        typer.Option("--retrain/--no-retrain", help="Refit the best configuration on train + "
                     "train-dev for its best epoch count (default: export.retrain)."),
    ] = None,
    include_dev: Annotated[
        Optional[bool],
        typer.Option("--include-dev/--no-include-dev", help="Retrain on dev as well (implies "
                     "--retrain; default: export.include_dev)."),
    ] = None,
    register: Annotated[
        bool, typer.Option("--register", help="Register the model in the MLflow model registry "
                           "(under export.registry, or the spec's name).")
    ] = False,
    ensemble: Annotated[
        Optional[int],
        typer.Option("--ensemble", min=1, metavar="K", help="Average the predicted probabilities "
                     "(or values) of the K best trials into one model (1: the best alone; default: "
                     "export.ensemble)."),
    ] = None,
    data: DataOpt = None,
    tracking_uri: TrackingOpt = None,
    storage: StorageOpt = None,
    sets: SetOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Export the best model of a search: .keras, SavedModel, TFLite, ONNX, a model card, MLflow."""
    _start(quiet, False)
    loaded = _load(spec, data, None, None, tracking_uri, storage, None, sets).with_overrides(**{
        "export.retrain": True if include_dev else retrain,
        "export.include_dev": include_dev,
        "export.ensemble": ensemble,
    })
    from autodl.export.bundle import CARD_FILE, export_spec

    manifest, folder = export_spec(loaded, formats or [], out, register, data is not None)
    combined = manifest.get("ensemble")
    how = ("retrained" if manifest["training"]["retrained"] else
           "as saved by the search" if combined is None else "trained on train as the search trained them")
    trials = [manifest["trial"]] if combined is None else [m["trial"] for m in combined["members"]]
    what = ("trial " if combined is None else "an ensemble of trials ") + ", ".join(f"#{t}" for t in trials)
    stdout_console.print(f"Exported {loaded.name} {what} ({how}) to {folder}:", markup=False, highlight=False)
    for name, info in manifest["formats"].items():
        stdout_console.print(
            f"  {name:<12} {info['path']:<14} {info['bytes'] / 1e6:8.3f} MB   largest "
            f"difference from Keras {info['max_abs_diff']:.2g}", markup=False, highlight=False,
        )
    if combined is not None:
        objective, scores = combined["objective"], combined["metrics"]
        for split in ("dev", "test"):
            name = objective.replace("dev_", f"{split}_", 1)
            if name in scores["ensemble"]:
                stdout_console.print(
                    f"  {name}: ensemble {scores['ensemble'][name]:.4g}, best single model "
                    f"{scores['best_single'][name]:.4g} ({combined['examples'][split]} {split} examples)",
                    markup=False, highlight=False,
                )
    stdout_console.print(f"Model card: {folder / CARD_FILE}", markup=False, highlight=False)
    published = manifest.get("mlflow")
    if published:
        registered = (f"; registered as {published['registered_name']} version "
                      f"{published['registered_version']}" if published["registered_name"] else "")
        stdout_console.print(
            f"MLflow: {published['model_uri']} in run {published['run_id']}{registered}",
            markup=False, highlight=False,
        )


class ModelFormat(str, Enum):
    """Formats ``autodl predict`` runs."""

    keras = "keras"
    saved_model = "saved_model"
    tflite = "tflite"
    onnx = "onnx"


@app.command()
def predict(
    model_dir: Annotated[
        Path, typer.Argument(help="An export folder (best_model/<name>/export), or the best-model "
                             "folder holding it.")
    ],
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="A folder of images or an image, a text file "
                             "(one sentence per line), a CSV/TSV/Parquet table, or an .npz with x.")
    ],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="CSV file to write (default: print the CSV).", dir_okay=False),
    ] = None,
    model_format: Annotated[
        Optional[ModelFormat], typer.Option("--format", help="Which exported format runs (default: keras).")
    ] = None,
) -> None:
    """Predict labels (names and probabilities) or values for raw input with an exported model."""
    configure(True)
    from autodl.export.predict import predict as run_predict

    frame, used = run_predict(model_dir, input_path, model_format.value if model_format else None)
    if out is None:
        sys.stdout.write(frame.to_csv(index=False, float_format="%.6g"))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, float_format="%.6g")
    stdout_console.print(f"Wrote {len(frame)} predictions ({used}) to {out}", markup=False,
                         highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()
