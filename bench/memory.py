"""Memory: resident memory after each of 25 tiny trials, autodl (tracking on) against a bare Keras
loop training the same 25 configurations, each in a fresh process; and the peak of a search whose
trials run in worker processes replaced every 10 trials (``runtime.trials_per_process``).

A search that leaks a little per trial runs out of memory after a few thousand trials; the slope
after a warm-up of 5 trials shows it. The bare loop's slope is what Keras itself costs. The two
processes run at the same time: memory, not time, is measured here.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import (
    SPECS,
    Figure,
    child_result,
    derive_spec,
    inside,
    parser,
    report,
    rss_mb,
    run_autodl,
    run_child,
    scratch,
    slope,
)

SPEC = SPECS / "digits_mlp_memory.yaml"
WARMUP = 5
SIDES = ("autodl", "bare", "recycled")
RECYCLE = 10


class RssObserver:
    """A search observer that notes this process's resident memory after each trial."""

    def __init__(self) -> None:
        self.rss: list[float] = []

    def trial_started(self, number: int, params: dict[str, Any], seed: int,
                      tags: dict[str, str]) -> Any:
        return lambda epoch, metrics: None

    def trial_attributes(self, number: int) -> dict[str, Any]:
        return {}

    def trial_finished(self, number: int, outcome: Any) -> None:
        self.rss.append(rss_mb())


def autodl_child(trials: int) -> dict[str, Any]:
    """Run the search loop with tracking on through autodl's own pipeline stages, adding the
    memory observer to the tracker."""
    from autodl.pipeline import prepare
    from autodl.search import SearchEnd, optimize
    from autodl.spec import load_spec

    spec = load_spec(SPEC).with_overrides(**{"search.trials": trials})
    with scratch("memory") as folder, inside(folder):
        run = prepare(spec)
        run.start([run.tracker])
        observer = RssObserver()
        before = rss_mb()
        result = optimize(spec, run.study, run.objective, [run.tracker, observer],
                          run.save_best(), run.lock, facts=run.data.facts())
        run.tracker.search_ended(SearchEnd("FINISHED", result.counts, result.stages))
    return {"before_mb": before, "rss_mb": observer.rss}


def bare_child(trials: int) -> dict[str, Any]:
    """Train the same configurations as the search's first ``trials`` trials in a bare loop."""
    from autodl.data import load_dataset
    from autodl.search.sampling import preview
    from autodl.spec import load_spec
    from bench.rivals import bare_loop

    spec = load_spec(SPEC)
    data = load_dataset(spec.data, spec.base_dir, spec.seed)
    configs = [sample.config for sample in preview(spec, trials)]
    before = rss_mb()
    rss: list[float] = []
    bare_loop(configs, data, spec.runtime.xla, lambda number: rss.append(rss_mb()))
    return {"before_mb": before, "rss_mb": rss}


def recycled_child(trials: int) -> dict[str, Any]:
    """``autodl search`` with ``runtime.trials_per_process``: the peak resident memory of its
    processes (the search and each worker it started), which waited-for children report."""
    import resource

    with scratch("memory-recycled") as folder:
        spec = derive_spec(SPEC, folder / "spec", {"runtime.trials_per_process": RECYCLE,
                                                   "search.trials": trials})
        run_autodl(["search", str(spec), "--quiet"], cwd=folder)
    return {"peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def figures_for(side: str, label: str, result: dict[str, Any], warmup: int) -> list[Figure]:
    """Memory after trials 1, 10 and the last, and the slope after the warm-up."""
    rss = result["rss_mb"]
    n = len(rss)
    return [
        *(Figure(f"memory.{side}_rss_{t}_mb", rss[t - 1], "MB", f"{label}: resident memory after trial {t}")
          for t in sorted({1, min(10, n), n})),
        Figure(f"memory.{side}_slope_mb", slope(rss, warmup), "MB/trial",
               f"{label}: least-squares slope over trials {warmup + 1}-{n}"),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Measure both sides (25 trials; ``--quick``: 6) and print memory figures and slopes."""
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--child", choices=SIDES, help="internal: run one side")
    options.add_argument("--trials", type=int, default=25)
    args = options.parse_args(argv)
    if args.quick:
        args.trials = 6
    if args.child:
        children = {"autodl": autodl_child, "bare": bare_child, "recycled": recycled_child}
        child_result(children[args.child](args.trials))
        return
    warmup = min(WARMUP, args.trials - 2)
    with ThreadPoolExecutor(max_workers=len(SIDES)) as pool:
        futures = {side: pool.submit(run_child, "bench.memory",
                                     ["--child", side, "--trials", str(args.trials)])
                   for side in SIDES}
        done = {side: future.result() for side, future in futures.items()}
    walls = {side: wall for side, (wall, _) in done.items()}
    results = {side: result for side, (_, result) in done.items()}
    figures = [
        *figures_for("autodl", "autodl", results["autodl"], warmup),
        *figures_for("bare", "baseline: bare Keras loop", results["bare"], warmup),
        Figure("memory.slope_difference_mb", slope(results["autodl"]["rss_mb"], warmup)
               - slope(results["bare"]["rss_mb"], warmup), "MB/trial",
               "autodl's slope minus the bare loop's"),
        Figure("memory.recycled_peak_mb", results["recycled"]["peak_mb"], "MB",
               f"autodl, a fresh worker every {RECYCLE} trials: peak resident memory of any process"),
        Figure("memory.recycled_vs_single_ratio", results["recycled"]["peak_mb"]
               / max(results["autodl"]["rss_mb"]), "x",
               "that peak over the single process's largest resident memory"),
    ]
    details = {"trials": args.trials, "warmup": warmup, "wall_s": walls, **results}
    report("memory", figures, details, args.out, args.quick)


if __name__ == "__main__":
    main()
