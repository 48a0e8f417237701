"""The HTML page of ``autodl report``: the terminal report's tables plus the search plots, in one
self-contained file (the PNGs are embedded as base64) that can be mailed or archived."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from autodl import __version__
from autodl.report.plots import (
    HISTORY,
    IMPORTANCES,
    PARALLEL,
    STAGES,
    TITLES,
    PlotSet,
    write_plots,
)
from autodl.report.study import StudyReport
from autodl.results.diagnosis import LABELS, SPLIT_LABELS
from autodl.results.learning_curve import CURVE_FILE
from autodl.results.uncertainty import SplitError, Z
from autodl.search.study import counts_text
from autodl.spec.space import describe

REPORTS_DIR = Path("reports")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.note { color: #666; }
"""


def default_path(name: str) -> Path:
    """Where the report of study ``name`` goes unless told otherwise."""
    return REPORTS_DIR / f"{name}.html"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:.4g}</td>'
    return f"<td>{escape(describe(value))}</td>"


def _table(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(path: Path, title: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{escape(title)}" src="data:image/png;base64,{data}">'


def _plot(plots: PlotSet, name: str) -> str:
    if name in plots.files:
        return _image(plots.files[name], TITLES[name])
    return f'<p class="note">{escape(TITLES[name])}: skipped, {escape(plots.skipped[name])}.</p>'


def _top(report: StudyReport) -> str:
    if not report.top:
        return '<p class="note">No trial has completed yet.</p>'
    header = ["trial", report.metric, "state", "epochs", *report.searched]
    rows = [
        [f"#{row.number}", row.value, row.state, row.epochs if row.epochs is not None else "-",
         *(row.params.get(name, "-") for name in report.searched)]
        for row in report.top
    ]
    return _table(header, rows)


def _stages(report: StudyReport) -> str:
    if not report.stages:
        return '<p class="note">Not a coarse-to-fine search: every trial sampled the whole space.</p>'
    header = ["hyperparameter", *(f"stage {k}" for k in report.stages)]
    rows = [[name, *(describe(spaces[name]) if name in spaces else "" for spaces in report.stages.values())]
            for name in report.stages[1]]
    return _table(header, rows)


def _importances(report: StudyReport) -> str:
    found = report.importances
    if found.skipped:
        return f'<p class="note">Skipped: {escape(found.skipped)}.</p>'
    return _table(["hyperparameter", "importance (fANOVA)"], [[n, v] for n, v in found.values.items()])


def _diagnosis(report: StudyReport) -> str:
    diagnosis, record = report.diagnosis, report.record
    if diagnosis is None or record is None:
        return (f'<p class="note">No diagnosis: {escape(str(report.record_path))} does not hold one (it is '
                "written when a search ends with a saved best model).</p>")
    errors = [[SPLIT_LABELS[s.name], s.n, s.error, f"± {Z * s.se:.2g}"] for s in diagnosis.errors.values()]
    if diagnosis.human is not None:
        errors.insert(0, ["human-level", "-", diagnosis.human, "given"])
    gaps = [[LABELS[g.name], f"{g.size:+.4g}", f"± {Z * g.se:.2g}", f"{g.resolvable:.2g}", "yes" if g.clear else "no"]
            for g in diagnosis.gaps.values()]
    parts = [
        f"<p>Best model: trial #{record['trial']} ({escape(str(report.record_path))}); "
        f"{escape(diagnosis.metric)}.</p>",
        _table(["split", "examples", "error", f"{Z:g} SE"], errors),
        _table(["gap", "size", f"{Z:g} SE", "smallest it can resolve", "stands out"], gaps),
    ]
    if diagnosis.baselines:
        shown = [s for s in ("dev", "test") if s in diagnosis.errors]

        def cells(found: dict[str, SplitError]) -> list[object]:
            return [f"{found[s].error:.4g} ± {Z * found[s].se:.2g}" if s in found else "-" for s in shown]

        rows = [["the best network", *cells(diagnosis.errors)]]
        rows += [[f"{b.name}: {b.description}", *cells(b.errors)] for b in diagnosis.baselines]
        parts.append(_table(["model", *(f"{s} error" for s in shown)], rows))
    curve = report.record_path.parent / CURVE_FILE
    if curve.is_file():
        parts.append("<p><b>Learning curve</b> (train and dev error against the training-set size):</p>"
                     + _image(curve, "Learning curve"))
    parts.append(f"<p><b>Verdict:</b> {escape(diagnosis.verdict)}.</p>")
    if diagnosis.beats_reference is False and diagnosis.reference is not None:
        parts.append(f'<p class="note"><b>Warning:</b> the best network does not beat the '
                     f"{escape(diagnosis.reference.name)} baseline by more than the noise.</p>")
    if diagnosis.notes:
        parts.append("<ul>" + "".join(f"<li>{escape(note)}</li>" for note in diagnosis.notes) + "</ul>")
    if report.best is not None and report.best != record["trial"]:
        parts.append(f'<p class="note">The study\'s best is now trial #{report.best}; run the search '
                     "again to save and diagnose it.</p>")
    if diagnosis.recommendations():
        steps = "".join(f"<li>{escape(step)}</li>" for step in diagnosis.recommendations())
        parts.append(f"<p><b>Next steps:</b></p><ul>{steps}</ul>")
    return "".join(parts)


def render(report: StudyReport, plots: PlotSet) -> str:
    """The whole page."""
    counts = counts_text(report.counts) + (f", {report.running} running" if report.running else "")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sections = [
        f"<h1>{escape(report.name)}</h1>",
        f"<p>Study in {escape(report.storage)}: {report.direction} {escape(report.metric)}. "
        f"Trials: {escape(counts)}.</p>",
        _table(["state", "trials"], [[k, str(v)] for k, v in report.counts.items()]),
        f"<h2>Best trials</h2>{_top(report)}",
        f"<h2>Optimization history</h2>{_plot(plots, HISTORY)}",
        f"<h2>Parameter importances</h2>{_importances(report)}{_plot(plots, IMPORTANCES)}",
        f"<h2>Parallel coordinates</h2>{_plot(plots, PARALLEL)}",
        f"<h2>Coarse-to-fine stages</h2>{_stages(report)}"
        + (_plot(plots, STAGES) if report.stages else ""),
        f"<h2>Diagnosis</h2>{_diagnosis(report)}",
        f'<p class="note">Written by autodl {escape(__version__)} on {stamp}.</p>',
    ]
    body = "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>autodl report: {escape(report.name)}</title><style>{STYLE}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


def write_html(report: StudyReport, path: Path) -> Path:
    """Plot the study, render the page and write it to ``path`` (folders created)."""
    with tempfile.TemporaryDirectory() as folder:
        plots = write_plots(report.study, Path(folder), report.metric, report.stages, report.importances)
        page = render(report, plots)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
