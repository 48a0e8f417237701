"""Pruning: the digits CNN search with median pruning and without, on the same trials.

autodl's random search samples trial n from (seed, n) alone, and trains it with a seed derived
from the same pair, so both runs try exactly the same configurations: the difference in epochs
trained, search time and best dev accuracy is the pruner's doing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from bench.common import (
    SPECS,
    Figure,
    inside,
    parser,
    ratio,
    report,
    scratch,
    search_loop,
    summarize,
)

SPEC = SPECS / "digits_cnn.yaml"


def main(argv: Sequence[str] | None = None) -> None:
    """Run both searches (12 trials of 8 epochs; ``--quick``: 3 trials of 2) and compare them."""
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--trials", type=int, default=12)
    options.add_argument("--seed", type=int, default=0)
    args = options.parse_args(argv)
    from autodl.spec import load_spec

    base = load_spec(SPEC)
    changes = {"seed": args.seed, "search.trials": 3 if args.quick else args.trials}
    if args.quick:
        changes["training.epochs"] = 2
    runs = {}
    with scratch("pruning") as folder, inside(folder):
        for pruner in ("none", "median"):
            spec = base.with_overrides(**changes, **{"name": f"bench-pruning-{pruner}",
                                                     "search.pruner.name": pruner})
            runs[pruner] = search_loop(spec)
    stats = {pruner: summarize(records) for pruner, records in runs.items()}
    unpruned_best = max((r for r in runs["none"] if r.value is not None), key=lambda r: r.value)
    lost = next(r for r in runs["median"] if r.number == unpruned_best.number).state != "complete"
    off, on = stats["none"], stats["median"]
    figures = [
        Figure("pruning.epochs_off", off["epochs"], "epochs", "baseline: epochs trained, no pruning"),
        Figure("pruning.epochs_on", on["epochs"], "epochs", "epochs trained, median pruning"),
        Figure("pruning.epochs_ratio", ratio(on["epochs"], off["epochs"]), "x", "epochs with / without"),
        Figure("pruning.pruned_trials", on["pruned"], "trials", f"trials pruned of {on['trials']}"),
        Figure("pruning.search_s_off", off["search_s"], "s", "baseline: search time, no pruning"),
        Figure("pruning.search_s_on", on["search_s"], "s", "search time, median pruning"),
        Figure("pruning.search_ratio", ratio(on["search_s"], off["search_s"]), "x",
               "search time with / without"),
        Figure("pruning.best_off", off["best"], "acc", "baseline: best dev accuracy, no pruning"),
        Figure("pruning.best_on", on["best"], "acc", "best dev accuracy, median pruning"),
        Figure("pruning.best_lost", float(lost), "bool",
               f"1 if pruning stopped the unpruned run's best trial (#{unpruned_best.number})"),
    ]
    details = {"changes": changes, "stats": stats,
               "records": {k: [asdict(r) for r in v] for k, v in runs.items()}}
    report("pruning", figures, details, args.out, args.quick)


if __name__ == "__main__":
    main()
