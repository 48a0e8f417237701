"""GPU set, where nvidia-smi lists a GPU: trials per hour on the GPU against the CPU, mixed
precision and XLA on and off (the spec's runtime options), and N parallel trials on one GPU
(`autodl search --workers N` with CUDA_VISIBLE_DEVICES naming one device).

Every run is `autodl search` on the digits CNN space without pruning (so every trial trains all
its epochs) in a fresh folder; trials per hour count from the first trial's start to the last
trial's end, as the study records them. Without a GPU it prints "skipped: no GPU visible".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autodl.runtime.devices import listed_gpus
from bench.common import (
    SPECS,
    Figure,
    derive_spec,
    parser,
    ratio,
    report,
    run_autodl,
    scratch,
    study_records,
    summarize,
)

SPEC = SPECS / "digits_cnn.yaml"
WORKERS = (2, 4)
SKIPPED = "no GPU visible (nvidia-smi lists none)"


@dataclass(frozen=True)
class Setup:
    """One configuration to measure: spec runtime changes, devices, worker processes."""

    name: str
    runtime: dict[str, Any]
    devices: str
    workers: int = 1


SETUPS = (
    Setup("cpu", {}, "-1"),
    Setup("gpu", {}, "0"),
    *(Setup(f"gpu_mp{int(mp)}_xla{int(xla)}", {"mixed_precision": mp, "xla": xla}, "0")
      for mp in (False, True) for xla in (False, True)),
    *(Setup(f"gpu_workers{n}", {}, "0", n) for n in WORKERS),
)


def measure(setup: Setup, trials: int, epochs: int) -> dict[str, float]:
    """Run one setup; its trials per hour, best dev accuracy and wall time."""
    name = f"bench-gpu-{setup.name}"
    changes = {"name": name, "search.pruner.name": "none", "training.epochs": epochs,
               **{f"runtime.{k}": v for k, v in setup.runtime.items()}}
    with scratch(f"gpu-{setup.name}") as folder:
        spec = derive_spec(SPEC, folder / "spec", changes)
        wall = run_autodl(["search", str(spec), "--trials", str(trials), "--workers",
                           str(setup.workers), "--quiet"], cwd=folder,
                          env={"CUDA_VISIBLE_DEVICES": setup.devices})
        stats = summarize(study_records(folder, name))
    return {**stats, "wall_s": wall, "trials_per_hour": ratio(stats["trials"] * 3600, stats["search_s"])}


def main(argv: Sequence[str] | None = None) -> None:
    """Measure every setup (12 trials of 8 epochs each; ``--quick``: 2 of 1), or say why not."""
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--trials", type=int, default=12)
    options.add_argument("--force", action="store_true",
                         help="run even when no GPU is visible (checks this script; the 'GPU' runs then use the CPU)")
    args = options.parse_args(argv)
    found = listed_gpus()
    if not found and not args.force:
        report("gpu", [], {"skipped": SKIPPED}, args.out, args.quick)
        print(f"skipped: {SKIPPED}", flush=True)
        return
    trials, epochs = (2, 1) if args.quick else (args.trials, 8)
    runs = {setup.name: measure(setup, trials, epochs) for setup in SETUPS}
    rate = {name: run["trials_per_hour"] for name, run in runs.items()}
    base = runs["gpu_mp0_xla0"]
    figures = [
        Figure("gpu.cpu_trials_per_hour", rate["cpu"], "trials/h", "baseline: CPU only (CUDA_VISIBLE_DEVICES=-1)"),
        Figure("gpu.gpu_trials_per_hour", rate["gpu"], "trials/h", "one GPU, spec defaults"),
        Figure("gpu.speedup", ratio(rate["gpu"], rate["cpu"]), "x", "GPU / CPU trials per hour"),
    ]
    for mp in (0, 1):
        for xla in (0, 1):
            name = f"gpu_mp{mp}_xla{xla}"
            figures += [
                Figure(f"gpu.mp{mp}_xla{xla}_ratio", ratio(rate[name], base["trials_per_hour"]), "x",
                       f"mixed precision {'on' if mp else 'off'}, XLA {'on' if xla else 'off'}: "
                       "trials per hour / both off"),
                Figure(f"gpu.mp{mp}_xla{xla}_best", runs[name]["best"], "acc",
                       f"mixed precision {'on' if mp else 'off'}, XLA {'on' if xla else 'off'}: best dev accuracy"),
            ]
    figures += [
        Figure(f"gpu.workers{n}_ratio", ratio(rate[f"gpu_workers{n}"], rate["gpu"]), "x",
               f"{n} workers on one GPU: trials per hour / 1 worker")
        for n in WORKERS
    ]
    details = {"gpus": found, "trials": trials, "epochs": epochs, "runs": runs}
    report("gpu", figures, details, args.out, args.quick)


if __name__ == "__main__":
    main()
