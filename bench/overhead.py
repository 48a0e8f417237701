"""Overhead: one fixed digits CNN trained N times by a bare Keras loop, as N autodl trials (the
CLI, MLflow tracking on) and as N KerasTuner RandomSearch trials; ratios of wall time.

Each side runs in a fresh process and is timed end to end (TensorFlow import, data, training,
whatever the tool does around it), and also over its trial loop alone (first trial start to last
trial end). With ``--rounds`` above 1, rounds alternate the order of the three sides so that a
machine that slows down midway does not favour one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bench.common import (
    SPECS,
    Figure,
    child_result,
    derive_spec,
    median,
    parser,
    ratio,
    report,
    run_autodl,
    run_child,
    scratch,
    study_records,
)

SPEC = SPECS / "digits_fixed.yaml"
STUDY = "bench-digits-fixed"
SIDES = ("bare", "autodl", "kerastuner")


def child(side: str, trials: int, epochs: int) -> None:
    """In a fresh process: train the fixed model ``trials`` times by ``side`` and print the loop
    time."""
    from autodl.data import load_dataset
    from autodl.search.sampling import preview
    from autodl.spec import load_spec
    from bench.rivals import bare_loop, kerastuner_search

    spec = load_spec(SPEC).with_overrides(**{"training.epochs": epochs})
    data = load_dataset(spec.data, spec.base_dir, spec.seed)
    if side == "bare":
        records = bare_loop([s.config for s in preview(spec, trials)], data, spec.runtime.xla)
    else:
        with scratch("overhead-kt") as folder:
            records = kerastuner_search("random", spec, data, spec.seed, math.inf, folder,
                                        max_trials=trials, distinct=True)
    child_result({"loop_s": records[-1].end_s, "trials": len(records)})


def autodl_side(trials: int, epochs: int) -> tuple[float, float]:
    """``autodl search`` on the fixed spec in a fresh folder; its wall and trial-loop times."""
    with scratch("overhead-autodl") as folder:
        spec = derive_spec(SPEC, folder / "spec", {"training.epochs": epochs})
        wall = run_autodl(["search", str(spec), "--trials", str(trials), "--quiet"], cwd=folder)
        records = study_records(folder, STUDY)
    if len(records) != trials:
        raise RuntimeError(f"autodl ran {len(records)} trials instead of {trials}")
    return wall, records[-1].end_s


def measure(side: str, trials: int, epochs: int) -> tuple[float, float]:
    """Wall time and trial-loop time of one side, each in its own process."""
    if side == "autodl":
        return autodl_side(trials, epochs)
    wall, result = run_child("bench.overhead", ["--child", side, "--trials", str(trials),
                                                "--epochs", str(epochs)])
    return wall, result["loop_s"]


def main(argv: Sequence[str] | None = None) -> None:
    """Time the three sides (10 trials of 3 epochs each; ``--quick``: 2 trials of 1 epoch)."""
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--child", choices=("bare", "kerastuner"), help="internal: run one side")
    options.add_argument("--trials", type=int, default=10)
    options.add_argument("--epochs", type=int, default=3)
    options.add_argument("--rounds", type=int, default=1,
                         help="measure each side this many times, alternating the order; medians")
    args = options.parse_args(argv)
    if args.quick:
        args.trials, args.epochs, args.rounds = 2, 1, 1
    if args.child:
        child(args.child, args.trials, args.epochs)
        return
    walls: dict[str, list[float]] = {side: [] for side in SIDES}
    loops: dict[str, list[float]] = {side: [] for side in SIDES}
    for number in range(args.rounds):
        for side in SIDES if number % 2 == 0 else tuple(reversed(SIDES)):
            wall, loop = measure(side, args.trials, args.epochs)
            walls[side].append(wall)
            loops[side].append(loop)
    wall = {side: median(values) for side, values in walls.items()}
    loop = {side: median(values) for side, values in loops.items()}
    n = args.trials
    figures = [
        Figure("overhead.bare_s", wall["bare"], "s", f"baseline: bare Keras loop, {n} fits, process wall"),
        Figure("overhead.autodl_s", wall["autodl"], "s", f"autodl search, {n} trials, tracking on"),
        Figure("overhead.kerastuner_s", wall["kerastuner"], "s", f"KerasTuner RandomSearch, {n} trials"),
        Figure("overhead.autodl_ratio", ratio(wall["autodl"], wall["bare"]), "x",
               "autodl / bare, end to end (goal <= KerasTuner's)"),
        Figure("overhead.kerastuner_ratio", ratio(wall["kerastuner"], wall["bare"]), "x",
               "KerasTuner / bare, end to end"),
        Figure("overhead.autodl_loop_ratio", ratio(loop["autodl"], loop["bare"]), "x",
               "autodl / bare, trial loop only (goal <= 1.05)"),
        Figure("overhead.kerastuner_loop_ratio", ratio(loop["kerastuner"], loop["bare"]), "x",
               "KerasTuner / bare, trial loop only"),
        Figure("overhead.autodl_per_trial_s", (loop["autodl"] - loop["bare"]) / n, "s",
               "autodl's extra time per trial in the loop"),
        Figure("overhead.autodl_fixed_s", (wall["autodl"] - loop["autodl"]) - (wall["bare"] - loop["bare"]),
               "s", "autodl's extra time outside the loop (start-up, final report, export)"),
    ]
    details = {"trials": n, "epochs": args.epochs, "rounds": args.rounds, "wall_s": walls,
               "loop_s": loops}
    report("overhead", figures, details, args.out, args.quick)


if __name__ == "__main__":
    main()
