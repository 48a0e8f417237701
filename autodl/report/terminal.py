"""What autodl prints: the end-of-search report and previews of sampled configurations."""

from __future__ import annotations

import csv
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from autodl.report.plots import PLOTS_DIR
from autodl.runtime.stores import mask_url
from autodl.search.study import counts_text
from autodl.spec.space import describe

if TYPE_CHECKING:
    from autodl.report.study import StudyReport
    from autodl.results.summary import SearchSummary
    from autodl.search import SearchResult
    from autodl.search.study import Failures


def _fmt(value: object) -> str:
    return escape(f"{value:.4g}" if isinstance(value, float) else describe(value))


def _reasons(pairs: list[tuple[str, int]]) -> str:
    return ", ".join(f"'{reason}' ({count})" for reason, count in pairs)


def failures_text(failures: Failures) -> str:
    """``5 failed with 'ValueError: ...' (3), 'loss became nan at epoch 1' (2); 2 pruned``: the
    trials that are no feasible complete one, most frequent reason first."""
    parts = []
    failed = sum(count for _, count in failures.failed)
    if failed:
        parts.append(f"{failed} failed with {_reasons(failures.failed)}")
    infeasible = sum(count for _, count in failures.infeasible)
    if infeasible:
        parts.append(f"{infeasible} broke search.constraints on {_reasons(failures.infeasible)}")
    if failures.pruned:
        parts.append(f"{failures.pruned} pruned")
    return "; ".join(parts) or "no trial finished"


def shortfall_text(result: SearchResult) -> str | None:
    """Why a search (or a worker's part) fell short, or ``None`` when it did not: no feasible
    complete trial in the study, or ``search.max_failed_trials`` failures in a row."""
    if not result.fell_short:
        return None
    found = result.failures
    hint = " Run with --verbose for the tracebacks." if found.failed else ""
    if result.best is None:
        head = "No feasible trial completed" if result.counts.get("infeasible") else "No trial completed"
        return f"{head}: {failures_text(found)}. There is no best model.{hint}"
    return (f"The search stopped early ({result.stop_reason}): {failures_text(found)}. Fix the cause "
            f"and run it again to resume.{hint}")


def stages_table(stages: dict[int, dict[str, str]]) -> Table:
    """Each coarse-to-fine stage's space (described), side by side."""
    table = Table(title="Coarse-to-fine stages: the space each stage sampled")
    table.add_column("hyperparameter")
    for stage in stages:
        table.add_column(f"stage {stage}")
    for name in stages[1]:
        table.add_row(name, *(escape(space.get(name, "")) for space in stages.values()))
    return table


def print_summary(summary: SearchSummary, console: Console) -> None:
    """Print the best trial table and where the results are."""
    result = summary.result
    counts = result.counts
    best = summary.best
    console.print(
        f"[bold]{escape(summary.spec.name)}[/]: stopped ({result.stop_reason}); "
        f"{counts_text(counts)} ({result.ran} run now)."
    )
    if result.stages:
        console.print(stages_table(result.stages))
    shortfall = shortfall_text(result)
    if best is None:
        if shortfall:
            console.print(shortfall, markup=False, highlight=False)
        return
    metric = best["objective"]["metric"]
    table = Table(title=f"Best trial #{best['trial']}: {metric} = {best['objective']['value']:.4f}")
    table.add_column("hyperparameter")
    table.add_column("value", justify="right")
    fixed = {p.name for p in summary.spec.parameters() if not p.searched}
    for name, value in best["hyperparameters"].items():
        if name not in fixed:
            table.add_row(name, _fmt(value))
    for name, value in sorted(best["metrics"].items()):
        table.add_row(f"[dim]{name}[/]", _fmt(value))
    table.add_row("[dim]parameters[/]", str(best["params_count"]))
    console.print(table)
    if summary.diagnosis is not None:
        console.print(Markdown(summary.diagnosis.report()), soft_wrap=False)
    console.print(f"Best model: {summary.export_dir}/model.keras (record: best.json)", markup=False)
    plots = summary.export_dir / PLOTS_DIR
    if plots.is_dir():
        console.print(f"Plots: {plots}/ (`autodl report SPEC` writes them into an HTML report)",
                      markup=False)
    console.print(f"Study: {summary.spec.name} in {mask_url(summary.storage)}; browse with `autodl dashboard SPEC`",
                  markup=False)
    if summary.tracking_uri:
        console.print(
            f"MLflow: run {summary.parent_run_id} in {mask_url(summary.tracking_uri)}; "
            "browse with `autodl ui SPEC` or `mlflow ui --backend-store-uri "
            f"{mask_url(summary.tracking_uri)}`",
            markup=False,
        )
    if shortfall:
        console.print(shortfall, markup=False, highlight=False)


def print_samples(rows: list[dict[str, Any]], names: list[str], console: Console, fmt: str) -> None:
    """Sampled configurations as a table or CSV; a parameter inactive in a row is left blank."""
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["sample", *names])
        for i, row in enumerate(rows):
            writer.writerow([i, *(row.get(name, "") for name in names)])
        return
    table = Table()
    table.add_column("#", justify="right")
    for name in names:
        table.add_column(name, justify="right", overflow="fold")
    for i, row in enumerate(rows):
        table.add_row(str(i), *(_fmt(row[name]) if name in row else "-" for name in names))
    console.print(table)


def print_study_report(report: StudyReport, console: Console) -> None:
    """``autodl report``: trial counts, the best trials, stage spaces, importances, diagnosis."""
    console.print(
        f"[bold]{escape(report.name)}[/] in {escape(report.storage)}: {report.direction} "
        f"{escape(report.metric)}; {counts_text(report.counts)}"
        f"{f', {report.running} running' if report.running else ''}."
    )
    if report.top:
        table = Table(title=f"Best {len(report.top)} trial{'s' if len(report.top) != 1 else ''}")
        table.add_column("trial")
        for row in report.top:
            table.add_column(f"#{row.number}", justify="right")
        table.add_row(escape(report.metric), *(f"{row.value:.4f}" for row in report.top))
        table.add_row("state", *(row.state for row in report.top))
        table.add_row("epochs", *(str(row.epochs) if row.epochs is not None else "-" for row in report.top))
        for name in report.searched:
            table.add_row(escape(name), *(_fmt(row.params[name]) if name in row.params else "-"
                                          for row in report.top))
        console.print(table)
    else:
        console.print("No trial has completed yet.")
    if report.stages:
        console.print(stages_table(
            {k: {name: describe(dist) for name, dist in spaces.items()} for k, spaces in report.stages.items()}
        ))
    found = report.importances
    if found.skipped:
        console.print(f"Parameter importances: skipped, {escape(found.skipped)}.")
    else:
        table = Table(title="Parameter importances (fANOVA over the complete trials)")
        table.add_column("hyperparameter")
        table.add_column("importance", justify="right")
        table.add_column("")
        for name, value in found.values.items():
            table.add_row(escape(name), f"{value:.3f}", "█" * max(1, round(value * 30)))
        console.print(table)
    if report.diagnosis is not None and report.record is not None:
        console.print(f"Best model: trial #{report.record['trial']} ({report.record_path})", markup=False)
        if report.best is not None and report.best != report.record["trial"]:
            console.print(f"The study's best is now trial #{report.best}; run the search again to save "
                          "and diagnose it.", markup=False)
        console.print(Markdown(report.diagnosis.report()), soft_wrap=False)
    else:
        console.print(f"No diagnosis: {report.record_path} does not hold one (it is written when a "
                      "search ends with a saved best model).", markup=False)
