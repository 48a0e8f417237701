"""What autodl prints: the end-of-search report and previews of sampled configurations."""

from __future__ import annotations

import csv
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from autodl.space import describe
from autodl.stores import mask_url

if TYPE_CHECKING:
    from autodl.pipeline import SearchSummary


def _fmt(value: object) -> str:
    return escape(f"{value:.4g}" if isinstance(value, float) else describe(value))


def print_summary(summary: SearchSummary, console: Console) -> None:
    """Print the best trial table and where the results are."""
    result = summary.result
    counts = result.counts
    best = summary.best
    infeasible = f" ({counts['infeasible']} infeasible)" if counts.get("infeasible") else ""
    console.print(
        f"[bold]{escape(summary.spec.name)}[/]: stopped ({result.stop_reason}); "
        f"{counts['complete']} complete{infeasible}, {counts['pruned']} pruned, "
        f"{counts['failed']} failed ({result.ran} run now)."
    )
    if result.stages:
        stages = Table(title="Coarse-to-fine stages: the space each stage sampled")
        stages.add_column("hyperparameter")
        for stage in result.stages:
            stages.add_column(f"stage {stage}")
        for name in result.stages[1]:
            stages.add_row(name, *(escape(space[name]) for space in result.stages.values()))
        console.print(stages)
    if best is None:
        console.print(
            "No feasible trial completed, so there is no best model."
            if counts.get("infeasible") else "No trial completed, so there is no best model."
        )
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
        console.print(Markdown(summary.diagnosis.report()))
    console.print(f"Best model: {summary.export_dir}/model.keras (record: best.json)", markup=False)
    console.print(f"Study: {summary.spec.name} in {mask_url(summary.storage)}", markup=False)
    if summary.tracking_uri:
        console.print(
            f"MLflow: run {summary.parent_run_id} in {mask_url(summary.tracking_uri)}; "
            "browse with `autodl ui` or `mlflow ui --backend-store-uri "
            f"{mask_url(summary.tracking_uri)}`",
            markup=False,
        )


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
