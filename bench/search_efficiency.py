"""Search efficiency: autodl against KerasTuner's RandomSearch and Hyperband on tasks where
configurations differ by several points, at the same wall-clock budget, on the same splits and
the same space; best dev accuracy, time to a target and trials run, median and range of 3 seeds,
and anytime curves (best dev accuracy so far against time) saved as PNGs.

Every tool samples the spec's space and builds each model with autodl's builder (``rivals.py``);
every score is the dev accuracy of a trial's final weights. Each run is a fresh process with one
CPU thread and its own folder; two run at a time on a 2-core machine, in an order that rotates
with the seed, so no tool always shares the machine with the same other. Time counts from the
start of the tool's first trial, and no tool starts a trial once its budget is spent.

``autodl`` is a spec that sets neither strategy nor pruner: a new user's defaults (``auto``:
random trials first, then multivariate TPE, with the default pruner). ``--tools`` adds autodl's
other strategies (``autodl_random``, ``autodl_tpe``, ``autodl_c2f``), which is how README's
comparison of strategies was measured (``make bench-strategies``).
"""

from __future__ import annotations

import argparse
import math
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import (
    RESULTS,
    ROOT,
    SPECS,
    Figure,
    Record,
    child_result,
    inside,
    median,
    parser,
    ratio,
    run_child,
    scratch,
    search_loop,
    summarize,
)
from bench.common import report as save_report

if TYPE_CHECKING:
    from autodl.spec import Spec

TOOLS = ("autodl", "kt_random", "kt_hyperband")
STRATEGIES = {"autodl": None, "autodl_random": "random", "autodl_tpe": "tpe", "autodl_c2f": "coarse_to_fine"}
"""autodl's runs by tool name: the spec's default strategy, or the one named."""
RIVALS = ("kt_random", "kt_hyperband")
BASELINE = "kt_random"
SEEDS = (0, 1, 2)
LANES = 2
"""Runs at a time, one CPU thread each."""
TO_TARGET_GOAL = 0.5
"""The issue's goal: autodl reaches the target in at most half of RandomSearch's time."""


@dataclass(frozen=True)
class Task:
    """A bench spec, its budget per tool and seed, the dev accuracy that counts as reaching the
    target, and the dev split's size (for the uncertainty of a score)."""

    spec: Path
    budget_s: float
    target: float
    dev_examples: int


TASKS = {
    "sites": Task(SPECS / "sentiment_sites.yaml", 120.0, 0.75, 1000),
    "digits_small": Task(SPECS / "digits_small.yaml", 120.0, 0.93, 719),
}
QUICK = {"digits_small": Task(SPECS / "digits_small.yaml", 8.0, 0.93, 719)}


def single_threaded(spec: Spec, tool: str, seed: int, budget_s: float) -> Spec:
    """The task's spec for one run: seeded, one CPU thread, the tool's strategy, the budget."""
    changes: dict[str, Any] = {"name": f"{spec.name}-{tool}-s{seed}", "seed": seed, "runtime.threads": 1,
                               "search.timeout": budget_s}
    strategy = STRATEGIES.get(tool)
    if strategy is not None:
        changes["search.strategy"] = strategy
    return spec.with_overrides(**changes)


def run_tool(task: Task, tool: str, seed: int) -> list[Record]:
    """One search of the task's budget by ``tool``, in this process and working directory."""
    from autodl.runtime.devices import apply
    from autodl.spec import load_spec

    spec = single_threaded(load_spec(task.spec), tool, seed, task.budget_s)
    if tool in STRATEGIES:
        return search_loop(spec)
    apply(spec.runtime)
    from autodl.data import load_dataset
    from bench.rivals import kerastuner_search

    data = load_dataset(spec.data, spec.base_dir, seed)
    return kerastuner_search(tool.removeprefix("kt_"), spec, data, seed, task.budget_s, Path.cwd() / "kt")


def child(arguments: Sequence[str]) -> None:
    """Child mode: ``--child TASK TOOL SEED BUDGET``; prints the run's records."""
    name, tool, seed, budget = arguments
    task = {**TASKS, **QUICK}[name]
    task = Task(task.spec, float(budget), task.target, task.dev_examples)
    child_result({"records": [asdict(r) for r in run_tool(task, tool, int(seed))]})


def run_all(tasks: dict[str, Task], tools: Sequence[str], seeds: Sequence[int],
            folder: Path) -> dict[str, dict[str, list[list[Record]]]]:
    """Every (task, tool, seed) in its own process, ``LANES`` at a time; records by task, tool."""
    jobs = []
    for name in tasks:
        for seed in seeds:
            shift = seed % len(tools)
            jobs += [(name, tool, seed) for tool in [*tools[shift:], *tools[:shift]]]

    def one(job: tuple[str, str, int]) -> list[Record]:
        name, tool, seed = job
        where = folder / f"{name}-{tool}-{seed}"
        where.mkdir()
        _, result = run_child("bench.search_efficiency",
                              ["--child", name, tool, str(seed), str(tasks[name].budget_s)], cwd=where,
                              env={"AUTODL_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
                                   "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1"})
        return [Record(**r) for r in result["records"]]

    with ThreadPoolExecutor(max_workers=LANES) as lanes:
        found = list(lanes.map(one, jobs))
    runs: dict[str, dict[str, list[list[Record]]]] = {n: {t: [] for t in tools} for n in tasks}
    for (name, tool, _), records in zip(jobs, found, strict=True):
        runs[name][tool].append(records)
    return runs


def best_so_far(records: Sequence[Record], times: Sequence[float]) -> list[float]:
    """The best complete score ended by each of ``times`` (``nan`` before the first)."""
    done = sorted((r.end_s, r.value) for r in records if r.value is not None)
    curve, best, index = [], math.nan, 0
    for moment in times:
        while index < len(done) and done[index][0] <= moment:
            best = done[index][1] if math.isnan(best) else max(best, done[index][1])
            index += 1
        curve.append(best)
    return curve


def plot(name: str, task: Task, by_tool: dict[str, list[list[Record]]], path: Path) -> None:
    """Anytime curves: per tool the median best dev accuracy so far over the seeds, with the
    range between the lowest and highest seed shaded."""
    import numpy as np

    from autodl.runtime.backend import pyplot

    plt = pyplot()
    last = max((r.end_s for runs in by_tool.values() for records in runs for r in records), default=0.0)
    times = np.linspace(0, max(task.budget_s, last) * 1.02, 300)
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for tool, runs in by_tool.items():
        curves = np.array([best_so_far(records, times) for records in runs], dtype=float)
        with warnings.catch_warnings():  # before a tool's first trial ends, every seed is nan
            warnings.simplefilter("ignore", RuntimeWarning)
            low, middle, high = (np.nanmin(curves, axis=0), np.nanmedian(curves, axis=0),
                                 np.nanmax(curves, axis=0))
        axes.plot(times, middle, label=tool)
        axes.fill_between(times, low, high, alpha=0.15)
    axes.axhline(task.target, color="grey", linestyle=":", linewidth=1, label=f"target {task.target:g}")
    axes.axvline(task.budget_s, color="grey", linestyle="--", linewidth=1)
    axes.set(xlabel="seconds since the first trial started", ylabel="best dev accuracy so far",
             title=f"{name}: median and range over {len(next(iter(by_tool.values())))} seeds "
                   f"(dev n={task.dev_examples})")
    axes.legend(loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def standard_error(accuracy: float, n: int) -> float:
    """The binomial standard error of an accuracy measured on ``n`` examples."""
    return math.sqrt(max(accuracy * (1 - accuracy), 1e-12) / n) if math.isfinite(accuracy) else math.nan


def to_target_ratio(tool: str, ours: float, theirs: float, budget_s: float) -> tuple[float, str]:
    """autodl's median time to the target over the baseline's, and what it means when a median run
    never reached the target: bounded by the budget when only the baseline's did not, else none."""
    if math.isfinite(ours) and not math.isfinite(theirs):
        return ratio(ours, budget_s), f"; at most this: {BASELINE}'s median run did not reach it in {budget_s:g} s"
    if not math.isfinite(ours) and not math.isfinite(theirs):
        return math.nan, f"; none: neither {tool}'s nor {BASELINE}'s median run reached it in {budget_s:g} s"
    if not math.isfinite(ours):
        return math.nan, f"; {tool}'s median run did not reach it in {budget_s:g} s"
    return ratio(ours, theirs), ""


def task_figures(name: str, task: Task, by_tool: dict[str, list[list[Record]]]) -> list[Figure]:
    """Medians per tool, and autodl's runs against each rival (the issue's goals)."""
    summaries = {tool: [summarize(records, task.target) for records in runs] for tool, runs in by_tool.items()}
    medians = {tool: {key: median(s[key] for s in runs) for key in ("best", "time_to_target_s", "trials")}
               for tool, runs in summaries.items()}
    seeds = len(next(iter(summaries.values())))
    figures = []
    for tool, runs in summaries.items():
        key = f"search.{name}.{tool}"
        reached = sum(math.isfinite(s["time_to_target_s"]) for s in runs)
        best = medians[tool]["best"]
        spread = f"seeds {min(s['best'] for s in runs):.3f}-{max(s['best'] for s in runs):.3f}"
        label = "baseline: " if tool == BASELINE else ""
        figures += [
            Figure(f"{key}.best", best, "acc", f"{label}{tool}: best dev accuracy in {task.budget_s:g} s, median "
                   f"of {seeds} ({spread}; +-{standard_error(best, task.dev_examples):.3f} on {task.dev_examples})"),
            Figure(f"{key}.to_target_s", medians[tool]["time_to_target_s"], "s",
                   f"{tool}: time to dev accuracy >= {task.target:g} (reached in {reached}/{seeds})"),
            Figure(f"{key}.trials", medians[tool]["trials"], "trials", f"{tool}: trials run"),
        ]
    for tool in (t for t in summaries if t in STRATEGIES):
        for rival in (r for r in RIVALS if r in summaries):
            figures.append(Figure(f"search.{name}.{tool}.best_gain_vs_{rival}",
                                  medians[tool]["best"] - medians[rival]["best"], "acc",
                                  f"{tool} median best minus {rival}'s (goal >= 0)"))
        if BASELINE in summaries:
            value, meaning = to_target_ratio(tool, medians[tool]["time_to_target_s"],
                                             medians[BASELINE]["time_to_target_s"], task.budget_s)
            figures.append(Figure(f"search.{name}.{tool}.to_target_ratio", value, "x",
                                  f"{tool} time to target / {BASELINE}'s (goal <= {TO_TARGET_GOAL:g}){meaning}"))
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    """Run every task (``--quick``: digits_small, one seed, an 8 s budget), print the figures,
    save the anytime curves (under bench/results/; a quick run's beside its JSON)."""
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--tools", default=",".join(TOOLS),
                         help=f"comma-separated, from {', '.join([*STRATEGIES, *RIVALS])}")
    options.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = options.parse_args(argv)
    if args.child:
        child(args.child)
        return
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t not in STRATEGIES and t not in RIVALS]
    if unknown:
        options.error(f"unknown tools {unknown}; expected some of {', '.join([*STRATEGIES, *RIVALS])}")
    tasks = QUICK if args.quick else TASKS
    seeds = SEEDS[:1] if args.quick else SEEDS
    bench = "search_efficiency" if tools == list(TOOLS) else "search_strategies"
    with scratch("search") as folder, inside(folder):
        runs = run_all(tasks, tools, seeds, folder)
    figures, details = [], {}
    for name, task in tasks.items():
        picture = (args.out if args.quick else RESULTS) / f"{bench}-{name}.png"
        plot(name, task, runs[name], picture)
        figures += task_figures(name, task, runs[name])
        shown = picture.relative_to(ROOT) if picture.is_relative_to(ROOT) else picture
        figures.append(Figure(f"search.{name}.plot", 1.0, "png", str(shown)))
        details[name] = {"task": {**asdict(task), "spec": task.spec.name},
                         "runs": {tool: [[asdict(r) for r in records] for records in by_seed]
                                  for tool, by_seed in runs[name].items()}}
    save_report(bench, figures, details, args.out, args.quick)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
