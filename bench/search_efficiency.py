"""Search efficiency: autodl (random search with median pruning, and coarse to fine) against
KerasTuner's RandomSearch and Hyperband on the same space, the same splits and the same
wall-clock budget; best dev accuracy reached and time to reach a target, median of three seeds.

Every tool samples the spec's space and builds each model with autodl's builder (see
``rivals.py``); every score is the dev accuracy of a trial's final weights; time counts from the
start of the search's first trial, and no tool starts a trial once the budget is spent. The
order of the tools rotates from seed to seed, so that no tool always runs first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import (
    SPECS,
    Figure,
    Record,
    inside,
    median,
    parser,
    ratio,
    report,
    scratch,
    search_loop,
    summarize,
)

if TYPE_CHECKING:
    from autodl.spec import Spec

TOOLS = ("autodl_random", "autodl_c2f", "kt_random", "kt_hyperband")
BASELINE = "kt_random"
SEEDS = (0, 1, 2)


@dataclass(frozen=True)
class Space:
    """A spec, its budget per tool and seed, the target dev accuracy, and the trial count that
    spreads coarse-to-fine's three stages over about that budget."""

    spec: Path
    budget_s: float
    target: float
    c2f_trials: int


SPACES = {
    "digits": Space(SPECS / "digits_cnn.yaml", 25.0, 0.97, 9),
    "sentiment": Space(SPECS / "sentiment_rnn.yaml", 20.0, 0.80, 6),
}
QUICK = {"digits": Space(SPECS / "digits_cnn.yaml", 2.0, 0.97, 3)}


def autodl_run(spec: Spec, tool: str, seed: int, space: Space) -> list[Record]:
    """One autodl search of the space's budget, random (median pruning) or coarse to fine."""
    changes: dict[str, Any] = {"name": f"{spec.name}-{tool}-s{seed}", "seed": seed,
                               "search.timeout": space.budget_s}
    if tool == "autodl_c2f":
        changes.update({"search.strategy": "coarse_to_fine", "search.trials": space.c2f_trials,
                        "search.stages": 3})
    return search_loop(spec.with_overrides(**changes))


def kerastuner_run(spec: Spec, tool: str, seed: int, budget_s: float, folder: Path) -> list[Record]:
    """One KerasTuner search of ``budget_s`` seconds on the splits autodl uses for ``seed``."""
    from autodl.data import load_dataset
    from bench.rivals import kerastuner_search

    seeded = spec.with_overrides(seed=seed)
    data = load_dataset(seeded.data, seeded.base_dir, seed)
    return kerastuner_search(tool.removeprefix("kt_"), seeded, data, seed, budget_s, folder / "kt")


def warm_up(spec: Spec) -> None:
    """One one-epoch trial, so that the first measured search does not pay for the process's
    first model (and the MLflow store's creation)."""
    search_loop(spec.with_overrides(**{"name": f"{spec.name}-warmup", "search.trials": 1,
                                       "training.epochs": 1}))


def measure_space(name: str, space: Space, seeds: Sequence[int]) -> dict[str, list[dict[str, Any]]]:
    """Every tool on every seed of one space; the summary of each run, by tool."""
    from autodl.spec import load_spec

    spec = load_spec(space.spec)
    runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in TOOLS}
    with scratch(f"search-{name}") as folder, inside(folder):
        warm_up(spec)
        for seed in seeds:
            order = TOOLS[seed % len(TOOLS):] + TOOLS[:seed % len(TOOLS)]
            for tool in order:
                if tool.startswith("autodl"):
                    records = autodl_run(spec, tool, seed, space)
                else:
                    records = kerastuner_run(spec, tool, seed, space.budget_s, folder)
                runs[tool].append({"seed": seed, **summarize(records, space.target),
                                   "records": [asdict(r) for r in records]})
    return runs


def space_figures(name: str, space: Space, runs: dict[str, list[dict[str, Any]]]) -> list[Figure]:
    """Medians per tool, and each tool against KerasTuner's RandomSearch."""
    figures = []
    medians = {tool: {key: median(run[key] for run in runs[tool])
                      for key in ("best", "time_to_target_s", "trials")} for tool in TOOLS}
    seeds = len(runs[BASELINE])
    for tool in TOOLS:
        key = f"search.{name}.{tool}"
        reached = sum(math.isfinite(run["time_to_target_s"]) for run in runs[tool])
        label = "baseline: " if tool == BASELINE else ""
        figures += [
            Figure(f"{key}.best", medians[tool]["best"], "acc",
                   f"{label}{tool}: best dev accuracy in {space.budget_s:g} s (median of {seeds})"),
            Figure(f"{key}.to_target_s", medians[tool]["time_to_target_s"], "s",
                   f"{tool}: time to dev accuracy >= {space.target:g} (reached in {reached}/{seeds})"),
            Figure(f"{key}.trials", medians[tool]["trials"], "trials", f"{tool}: trials run"),
        ]
    for tool in TOOLS:
        if tool == BASELINE:
            continue
        key = f"search.{name}.{tool}"
        figures += [
            Figure(f"{key}.best_gain", medians[tool]["best"] - medians[BASELINE]["best"], "acc",
                   f"{tool} best minus {BASELINE} best"),
            Figure(f"{key}.to_target_ratio", ratio(medians[tool]["time_to_target_s"],
                                                   medians[BASELINE]["time_to_target_s"]), "x",
                   f"{tool} time to target / {BASELINE}'s"),
        ]
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    """Run every space (``--quick``: digits, one seed, a 2 s budget) and print the figures."""
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    spaces = QUICK if args.quick else SPACES
    seeds = SEEDS[:1] if args.quick else SEEDS
    figures, details = [], {}
    for name, space in spaces.items():
        runs = measure_space(name, space, seeds)
        figures += space_figures(name, space, runs)
        details[name] = {"space": {**asdict(space), "spec": space.spec.name}, "runs": runs}
    report("search_efficiency", figures, details, args.out, args.quick)


if __name__ == "__main__":
    main()
