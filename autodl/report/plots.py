"""Plots of a whole search: optimization history, parameter importances, parallel coordinates and
coarse-to-fine stage ranges, as PNG files.

Written at the end of every search beside the best model (``best_model/<name>/plots/``) and
logged to the MLflow parent run under ``plots/``; ``autodl report`` embeds them in its HTML page.
A plot that cannot say anything yet (too few trials, one stage so far) is skipped with
its reason. Matplotlib is imported only when plotting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState

from autodl.errors import AutodlError
from autodl.report.study import Importances, importances, stage_distributions, widened
from autodl.runtime.backend import pyplot
from autodl.runtime.log import logger
from autodl.search.study import FINISHED, complete_value
from autodl.spec import Spec, space

PLOTS_DIR = "plots"
HISTORY = "optimization_history.png"
IMPORTANCES = "param_importances.png"
PARALLEL = "parallel_coordinates.png"
STAGES = "stage_ranges.png"
TITLES = {
    HISTORY: "Optimization history",
    IMPORTANCES: "Parameter importances",
    PARALLEL: "Parallel coordinates",
    STAGES: "Coarse-to-fine stage ranges",
}
DPI = 100
Ranged = FloatDistribution | IntDistribution


@dataclass
class PlotSet:
    """The plots written (file name -> path) and those skipped (file name -> reason)."""

    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _save(fig: Any, path: Path) -> None:
    plt = pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _maximize(study: optuna.Study) -> bool:
    return study.direction == optuna.study.StudyDirection.MAXIMIZE


def plot_history(study: optuna.Study, metric: str, path: Path) -> str | None:
    """The objective of every finished trial by number, with the best feasible value so far.

    Infeasible trials (over a constraint) are crosses, pruned ones sit at the last value they
    reported, failed ones (no value) are marks along the bottom. Returns why it was skipped.
    """
    trials = study.get_trials(deepcopy=False, states=FINISHED)
    if not trials:
        return "no trial has finished yet"
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    groups: dict[str, list[tuple[int, float]]] = {"complete": [], "infeasible": [], "pruned": []}
    failed: list[int] = []
    for trial in trials:
        if trial.state == TrialState.COMPLETE:
            infeasible = trial.user_attrs.get("state") == "infeasible"
            groups["infeasible" if infeasible else "complete"].append((trial.number, float(complete_value(trial))))
        elif trial.state == TrialState.PRUNED and trial.intermediate_values:
            last = max(trial.intermediate_values)
            groups["pruned"].append((trial.number, trial.intermediate_values[last]))
        else:
            failed.append(trial.number)
    styles = {
        "complete": {"color": "C0", "marker": "o", "label": "complete"},
        "infeasible": {"color": "C1", "marker": "x", "label": "infeasible (breaks a constraint)"},
        "pruned": {"color": "0.6", "marker": "v", "label": "pruned (last reported value)"},
    }
    for name, points in groups.items():
        if points:
            ax.scatter(*zip(*points, strict=True), zorder=3, **styles[name])
    if failed:
        ax.scatter(failed, [0.03] * len(failed), transform=ax.get_xaxis_transform(), color="C3",
                   marker="X", zorder=3, label="failed or pruned without a value")
    if groups["complete"]:
        pick = max if _maximize(study) else min
        xs: list[int] = []
        best: list[float] = []
        for number, value in sorted(groups["complete"]):
            xs.append(number)
            best.append(value if not best else pick(best[-1], value))
        last = max(t.number for t in trials)
        ax.step([*xs, last], [*best, best[-1]], where="post", color="C2", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title(f"Optimization history ({study.direction.name.lower()} {metric})")
    ax.legend(fontsize=8, loc="best")
    _save(fig, path)
    return None


def plot_importances(found: Importances, path: Path) -> str | None:
    """fANOVA importances as horizontal bars, the most important on top."""
    if found.skipped is not None:
        return found.skipped
    plt = pyplot()
    names = list(found.values)[::-1]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * len(names)))
    ax.barh(names, [found.values[n] for n in names], color="C0")
    for y, name in enumerate(names):
        ax.text(found.values[name], y, f" {found.values[name]:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, max(found.values.values()) * 1.15 or 1.0)
    ax.set_xlabel("share of the objective's variance (fANOVA)")
    ax.set_title("Parameter importances")
    _save(fig, path)
    return None


def _position(dist: BaseDistribution, value: Any) -> float:
    """Where ``value`` sits on a [0, 1] axis for ``dist`` (its own scale; choices evenly)."""
    if isinstance(dist, CategoricalDistribution):
        choices = list(dist.choices)
        return choices.index(value) / (len(choices) - 1) if len(choices) > 1 else 0.5
    ranged = cast(Ranged, dist)  # a study holds only Optuna's float, int and categorical kinds
    low, high, v = float(ranged.low), float(ranged.high), float(value)
    if getattr(dist, "log", False):
        low, high, v = math.log(low), math.log(high), math.log(v)
    return (v - low) / (high - low) if high > low else 0.5


def _axis_labels(dist: BaseDistribution) -> list[tuple[float, str]]:
    if isinstance(dist, CategoricalDistribution):
        return [(_position(dist, c), space.describe(c)) for c in dist.choices]
    ranged = cast(Ranged, dist)  # as in _position
    return [(0.0, space.describe(ranged.low)), (1.0, space.describe(ranged.high))]


def plot_parallel(study: optuna.Study, metric: str, path: Path) -> str | None:
    """Each complete trial as a line across one axis per searched parameter (on its sampling
    scale: ``1-`` names are ``1 - value`` on a log scale) and the objective, colored by it."""
    complete: list[FrozenTrial] = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return f"parallel coordinates need at least 2 complete trials, but the study has {len(complete)}"
    dists = widened(complete)
    if not dists:
        return "the study searched no hyperparameter"
    plt = pyplot()
    names = list(dists)
    values = [float(complete_value(t)) for t in complete]
    low, high = min(values), max(values)
    cmap = plt.get_cmap("viridis" if _maximize(study) else "viridis_r")
    norm = plt.Normalize(low, high if high > low else low + 1.0)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * (len(names) + 1)), 5))
    order = sorted(complete, key=lambda t: complete_value(t) if _maximize(study) else -complete_value(t))
    for trial in order:
        ys = [_position(dists[n], trial.params[n]) if n in trial.params else math.nan for n in names]
        ys.append((complete_value(trial) - low) / (high - low) if high > low else 0.5)
        ax.plot(range(len(ys)), ys, color=cmap(norm(trial.value)), alpha=0.8, linewidth=1.5)
    for x, name in enumerate(names):
        ax.axvline(x, color="0.3", linewidth=0.8)
        for y, label in _axis_labels(dists[name]):
            ax.text(x, y, f" {label}", fontsize=7, va="center", ha="left", color="0.2")
    ax.axvline(len(names), color="0.3", linewidth=0.8)
    for y, value in ((0.0, low), (1.0, high)):
        ax.text(len(names), y, f" {value:.4g}", fontsize=7, va="center", ha="left", color="0.2")
    shown = [f"{n} (log)" if getattr(dists[n], "log", False) else n for n in names]
    ax.set_xticks(range(len(names) + 1), labels=[*shown, metric], rotation=25, ha="right", fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(names) + 0.6)
    ax.set_ylim(-0.05, 1.05)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=metric)
    ax.set_title(f"Parallel coordinates of {len(complete)} complete trials")
    _save(fig, path)
    return None


def _stage_values(study: optuna.Study, name: str) -> dict[int, list[Any]]:
    """The values each stage's trials took for ``name``."""
    found: dict[int, list[Any]] = {}
    for trial in study.get_trials(deepcopy=False):
        stage, params = trial.user_attrs.get("stage"), trial.user_attrs.get("params", {})
        if stage is not None and name in params:
            found.setdefault(int(stage), []).append(params[name])
    return found


def plot_stages(study: optuna.Study, stages: dict[int, dict[str, space.Distribution]], path: Path) -> str | None:
    """For each searched parameter, the range (or choices) each coarse-to-fine stage sampled,
    with the values its trials took as dots. ``inv_log`` parameters are drawn as ``1 - value``."""
    if len(stages) < 2:
        return "only the first coarse-to-fine stage has started"
    plt = pyplot()
    names = list(stages[1])
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 0.9 + 0.45 * len(stages) * len(names) + 0.4 * len(names)),
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=False):
        whole = stages[1][name]
        taken = _stage_values(study, name)
        for stage, spaces in stages.items():
            dist = spaces.get(name, whole)
            values = taken.get(stage, [])
            if isinstance(whole, space.Choice):
                index = {repr(v): i for i, v in enumerate(whole.values)}
                allowed = dist.values if isinstance(dist, space.Choice) else whole.values
                boxes = [index[repr(v)] for v in allowed if repr(v) in index]
                dots = [index[repr(v)] for v in values if repr(v) in index]
                ax.scatter(boxes, [stage] * len(boxes), marker="s", s=120, color="C0", alpha=0.3)
                ax.scatter(dots, [stage] * len(dots), color="C3", s=12, zorder=3)
                ax.set_xticks(range(len(whole.values)), labels=[space.describe(v) for v in whole.values],
                              fontsize=8)
                continue
            if not isinstance(dist, (space.IntRange, space.FloatRange)):
                raise AutodlError(f"Stage {stage} stored {name} as {space.describe(dist)}, but the whole "
                                  f"space has it as {space.describe(whole)}; the study's stage spaces "
                                  "do not fit this spec.")
            flip = isinstance(whole, space.FloatRange) and whole.scale == "inv_log"
            ends = sorted((1.0 - dist.low, 1.0 - dist.high)) if flip else [dist.low, dist.high]
            ax.hlines(stage, ends[0], ends[1], linewidth=8, color="C0", alpha=0.3)
            ax.scatter([1.0 - v if flip else v for v in values], [stage] * len(values), color="C3", s=12,
                       zorder=3)
        if isinstance(whole, space.FloatRange) and whole.scale in ("log", "inv_log") or (
            isinstance(whole, space.IntRange) and whole.log
        ):
            ax.set_xscale("log")
        label = f"1 - {name}" if isinstance(whole, space.FloatRange) and whole.scale == "inv_log" else name
        ax.set_title(label, fontsize=9, loc="left")
        ax.set_yticks(list(stages), labels=[f"stage {k}" for k in stages], fontsize=8)
        ax.set_ylim(max(stages) + 0.6, min(stages) - 0.6)
    fig.suptitle("Coarse-to-fine: the space each stage sampled (bars) and the trials (dots)", fontsize=10)
    _save(fig, path)
    return None


def write_plots(
    study: optuna.Study, folder: Path, metric: str, stages: dict[int, dict[str, space.Distribution]],
    found: Importances,
) -> PlotSet:
    """Write every plot that has something to show into ``folder``; log why the others were not."""
    folder.mkdir(parents=True, exist_ok=True)
    result = PlotSet(folder)
    makers = {
        HISTORY: lambda path: plot_history(study, metric, path),
        IMPORTANCES: lambda path: plot_importances(found, path),
        PARALLEL: lambda path: plot_parallel(study, metric, path),
    }
    if stages:
        makers[STAGES] = lambda path: plot_stages(study, stages, path)
    for name, make in makers.items():
        path = folder / name
        reason = make(path)
        if reason is None:
            result.files[name] = path
        else:
            path.unlink(missing_ok=True)
            result.skipped[name] = reason
            logger.info("plot %s skipped: %s", name, reason)
    return result


def search_plots(study: optuna.Study, spec: Spec, folder: Path) -> PlotSet:
    """The plots of the search ``spec`` describes, at its end."""
    return write_plots(study, folder, spec.search.objective.metric, stage_distributions(study, spec),
                       importances(study))

