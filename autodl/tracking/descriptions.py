"""The descriptions of a search's MLflow runs (the ``mlflow.note.content`` tag, markdown, shown on
each run's page): what the search found, and how and why each trial ended.

Built from plain values only (the best trial's record, the trial's outcome): tracking comes before
the results stage, so the diagnosis arrives as its stored record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autodl.outcome import TrialOutcome
from autodl.search.loop import SearchEnd
from autodl.search.study import counts_text

NOTE_TAG = "mlflow.note.content"
"""MLflow's tag for a run's description."""
STATUS_WORDS = {
    "FINISHED": "finished",
    "KILLED": "interrupted (Ctrl-C); running the same command resumes it",
    "FAILED": "stopped by an error (the terminal said which); running the same command resumes it",
}
COMPARE_HINT = ("Compare the trials: in the runs table expand this run, select its trial runs, press "
                "*Compare* and open *Parallel Coordinates Plot* (hyperparameters against the objective).")


def trial_run_name(number: int, total: int) -> str:
    """``trial-007``: zero-padded to the digits of the study's trial budget (at least 3), so trial
    runs sort by number in the UI."""
    return f"trial-{number:0{max(3, len(str(total)))}d}"


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def running_trial(number: int, study: str) -> str:
    """The description of a trial run while it trains."""
    return f"**running** (Optuna trial #{number} of study `{study}`)."


def trial_description(number: int, outcome: TrialOutcome, metric: str, study: str) -> str:
    """How a trial ended and why: its score when complete, the pruner's threshold when pruned,
    the reason when failed, the broken constraint when infeasible."""
    reason = outcome.reason or "no reason was recorded"
    if outcome.state == "complete":
        head = (f"**complete** after {outcome.epochs} epoch{'s' if outcome.epochs != 1 else ''}: "
                f"{metric} = {_value(outcome.value)}. The train, train-dev and dev scores are under "
                "Metrics, the per-epoch curves under Model metrics.")
    elif outcome.state == "pruned":
        head = f"**pruned**: {reason}. The pruner stopped it to spend the budget on more promising trials."
    elif outcome.state == "infeasible":
        head = (f"**infeasible**: it completed with {metric} = {_value(outcome.value)}, but it {reason} "
                "(`search.constraints`), so it is never the best model.")
    else:
        head = (f"**failed**: {reason[:2000]}. The search went on with the next trial (`autodl search -v` "
                "shows the traceback).")
    return f"{head}\n\nOptuna trial #{number} of study `{study}` (`autodl dashboard SPEC` shows the study)."


def _error_name(diagnosis: dict[str, Any]) -> str:
    """``error`` for classification (whose metric reads ``error = 1 - accuracy``), else the
    regression metric (``mae``)."""
    return str(diagnosis["metric"]).split(" = ")[0]


def _score(best: dict[str, Any]) -> str:
    """The best trial's objective, with the uncertainty of its dev error when diagnosed."""
    objective = best["objective"]
    text = f"{objective['metric']} = {_value(objective.get('value'))}"
    diagnosis = best.get("diagnosis") or {}
    dev = diagnosis.get("errors", {}).get("dev")
    if dev and "z" in diagnosis:
        text += (f" (dev {_error_name(diagnosis)} {dev['error']:.4g} ± {diagnosis['z'] * dev['se']:.2g}, "
                 f"{diagnosis['z']:g} standard errors, on {dev['n']} examples)")
    test_metric = "test_" + objective["metric"].removeprefix("dev_")
    test = best.get("metrics", {}).get(test_metric)
    if test is not None:
        text += f"; measured once on test: {test_metric} = {_value(test)}"
    return text


def _baselines(diagnosis: dict[str, Any]) -> list[str]:
    """The baselines' dev errors beside the network's, when they were scored."""
    found = diagnosis.get("baselines") or []
    dev = diagnosis.get("errors", {}).get("dev")
    if not found or dev is None or "z" not in diagnosis:
        return []
    z = diagnosis["z"]

    def cell(errors: dict[str, Any]) -> str:
        return f"{errors['dev']['error']:.4g} ± {z * errors['dev']['se']:.2g}" if "dev" in errors else "-"

    lines = [f"**Baselines** (dev {_error_name(diagnosis)}, ± {z:g} standard errors):", "",
             f"- the best network: {cell(diagnosis['errors'])}"]
    lines += [f"- {b['name']} ({b['description']}): {cell(b['errors'])}" for b in found]
    if diagnosis.get("beats_reference") is False:
        lines += ["", "**Warning:** the best network does not beat the best baseline by more than the noise."]
    return lines


def _where(end: SearchEnd, logged_models: list[str]) -> str:
    """Where the model, the plots and the diagnosis are, on disk and among this run's artifacts."""
    parts = []
    if end.folder is not None:
        parts.append(f"best model `{Path(end.folder) / 'model.keras'}` with `best.json` and `diagnosis.md` "
                     "(artifacts: `best_model/`)")
    if end.plots is not None and Path(end.plots).is_dir():
        parts.append(f"plots `{end.plots}/` (artifacts: `plots/`)")
    parts += [f"logged model `{uri}` (loads with `mlflow.pyfunc.load_model`)" for uri in logged_models]
    return "**Where:** " + "; ".join(parts) + "." if parts else ""


def search_description(name: str, end: SearchEnd, best_run: str | None, logged_models: list[str]) -> str:
    """What a search found, in a few lines: the best trial and its score with uncertainty, the
    baselines, the verdict and next steps, the trial counts, where the model and plots are."""
    lines = [f"**autodl search `{name}`**: {STATUS_WORDS.get(end.status, end.status.lower())}.", ""]
    best = end.best
    if best is None:
        lines.append("No trial completed within the constraints; each trial run's description says why it ended.")
    else:
        run = f" (run `{best_run}`)" if best_run else ""
        lines.append(f"**Best trial:** #{best['trial']}{run}, {_score(best)}.")
        diagnosis = best.get("diagnosis") or {}
        baselines = _baselines(diagnosis)
        if baselines:
            lines += ["", *baselines]
        verdict = end.verdict or diagnosis.get("verdict")
        if verdict:
            lines += ["", f"**Verdict:** {verdict}."]
        steps = diagnosis.get("recommendations") or []
        if steps:
            lines += ["", "**Next steps:**", "", *(f"- {step}" for step in steps)]
    if end.counts:
        lines += ["", f"**Trials:** {counts_text(end.counts)}."]
    where = _where(end, logged_models)
    if where:
        lines += ["", where]
    lines += ["", COMPARE_HINT]
    return "\n".join(lines) + "\n"


def running_search(name: str, done: int, total: int) -> str:
    """The parent run's description while the search runs."""
    return (f"**autodl search `{name}`**: running; {done} of {total} trials finished when it (re)started. "
            "This is replaced by what the search found once it ends.\n\n" + COMPARE_HINT + "\n")
