"""Pruning: which pruner a new spec gets by default, chosen from measured learning curves.

For each task and seed, one search without pruning trains a pool of trials to the end and keeps
each trial's dev accuracy after every epoch (two pools at a time, each in a process of its own:
what is measured is epochs, not seconds). Every candidate pruner (autodl's own pruner factory,
with the candidate's settings) is then replayed on those curves: the same trials in the same
order, each reporting its recorded epochs until the pruner stops it. autodl's random search samples
trial n from (seed, n) alone and trains it with a seed derived from the same pair, so a pruned run
would have trained exactly these prefixes; one real search with the default pruner of a new spec
checks that, and the run says whether that default is still the candidate the replays choose.

Two comparisons per candidate: at equal trial counts (the first ``compared`` trials), the share of
epochs saved and the points of median best dev accuracy lost; and at the epoch budget of those
unpruned trials, how many trials the saved epochs buy and the best they find.

``make bench`` compares 10 trials per pool to stay within its 30 minutes. ``--trials N`` compares
N of N + 4 recorded (``make bench-pruning``: a new spec's default ``search.trials``, about 14
minutes on 2 cores) and saves ``pruning-N-trials.json``, since the startup trials that a median
or percentile pruner never stops weigh less in a longer study.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import SPECS, Figure, inside, median, parser, report, scratch, search_trials

if TYPE_CHECKING:
    from autodl.spec import Spec

SEEDS = (0, 1, 2)
LANES = 2
"""Pools recorded at a time."""
EPOCHS_SAVED_GOAL = 0.5
"""The issue's goal: the default pruner saves at least half of the epochs..."""
ACCURACY_LOSS_GOAL = 0.005
"""...and loses at most 0.5 percentage points of median best dev accuracy."""


@dataclass(frozen=True)
class Task:
    """A bench spec, its epochs per trial, the trial count compared, and the pool of trials
    recorded (more than compared, for the budget comparison)."""

    spec: Path
    epochs: int
    compared: int
    pool: int


TASKS = {
    "digits": Task(SPECS / "digits_cnn.yaml", 6, 10, 14),
    "sentiment": Task(SPECS / "sentiment_rnn.yaml", 5, 10, 12),
}
QUICK = {"digits": Task(SPECS / "digits_cnn.yaml", 2, 3, 4)}
EXTRA_RECORDED = 4
"""With ``--trials N``, each pool records N + this many trials, for the budget comparison."""

CANDIDATES: dict[str, dict[str, Any]] = {
    "median_w2": {"name": "median", "warmup_epochs": 2, "startup_trials": 5},
    "median_w1": {"name": "median", "warmup_epochs": 1, "startup_trials": 5},
    "median_w1_s3": {"name": "median", "warmup_epochs": 1, "startup_trials": 3},
    "percentile25_w1": {"name": "percentile", "percentile": 25.0, "warmup_epochs": 1, "startup_trials": 5},
    "patient_median_w1": {"name": "patient", "wraps": "median", "patience": 1, "warmup_epochs": 1,
                          "startup_trials": 5},
    "halving_r1": {"name": "successive_halving", "warmup_epochs": 1},
    "halving_r2": {"name": "successive_halving", "warmup_epochs": 2},
    "hyperband_r1": {"name": "hyperband", "warmup_epochs": 1},
}
"""Pruners weighed for the default, by label: ``search.pruner`` settings."""


@dataclass(frozen=True)
class Curve:
    """One unpruned trial: its objective after each epoch, its final score (``None`` unless it
    completed) and the epochs it trained."""

    number: int
    values: tuple[float, ...]
    value: float | None
    epochs: int


@dataclass(frozen=True)
class Replayed:
    """What a pruner made of a sequence of curves: the epochs each started trial trained (by
    trial number), which of them it pruned, and the best complete score (``nan`` when none)."""

    trained: dict[int, int]
    pruned_numbers: tuple[int, ...]
    best: float

    @property
    def trials(self) -> int:
        """Trials started."""
        return len(self.trained)

    @property
    def epochs(self) -> int:
        """Epochs trained over all trials."""
        return sum(self.trained.values())


def curves_of(trials: Sequence[Any]) -> list[Curve]:
    """The curves of an unpruned study's finished trials, in trial order."""
    curves = []
    for trial in sorted(trials, key=lambda t: t.number):
        if trial.datetime_complete is None:
            continue
        steps = sorted(trial.intermediate_values)
        complete = trial.user_attrs.get("state") == "complete"
        curves.append(Curve(trial.number, tuple(float(trial.intermediate_values[s]) for s in steps),
                            float(trial.value) if complete else None,
                            int(trial.user_attrs.get("epochs") or len(steps))))
    return curves


def replay(spec: Spec, curves: Sequence[Curve], budget_epochs: int | None = None) -> Replayed:
    """Run ``spec``'s pruner (``autodl.search.make_pruner``) over ``curves`` in order, as a
    sequential search would: each trial reports its epochs until the pruner stops it. With
    ``budget_epochs``, no trial starts once that many epochs are spent (``search.max_epochs``);
    otherwise every curve is used. Scores are maximized."""
    import optuna

    from autodl.search.pruners import make_pruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="pruning-replay", direction="maximize", pruner=make_pruner(spec))
    trained: dict[int, int] = {}
    pruned: list[int] = []
    best = float("nan")
    for curve in curves:
        if budget_epochs is not None and sum(trained.values()) >= budget_epochs:
            break
        trial = study.ask()
        stopped = None
        for epoch, value in enumerate(curve.values, start=1):
            trial.report(value, epoch)
            if trial.should_prune():
                stopped = epoch
                break
        if stopped is not None:
            trained[curve.number] = stopped
            pruned.append(curve.number)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif curve.value is None:
            trained[curve.number] = curve.epochs
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            trained[curve.number] = curve.epochs
            study.tell(trial, curve.value)
            best = curve.value if math.isnan(best) else max(best, curve.value)
    return Replayed(trained, tuple(pruned), best)


def with_pruner(spec: Spec, settings: Mapping[str, Any]) -> Spec:
    """``spec`` with ``search.pruner`` replaced by ``settings`` (the rest at their defaults)."""
    from autodl.spec.sections import PrunerSpec

    pruner = PrunerSpec(**settings)
    return spec.model_copy(update={"search": spec.search.model_copy(update={"pruner": pruner})})


@dataclass(frozen=True)
class Verdict:
    """One candidate on one task: medians over seeds of the epochs saved at equal trial counts,
    the best dev accuracy lost, and at the unpruned epoch budget the trials run and best gained."""

    saved: float
    lost: float
    budget_trials: float
    budget_gain: float
    meets: bool


def judge(spec: Spec, settings: Mapping[str, Any], runs: Sequence[Sequence[Curve]], compared: int) -> Verdict:
    """Replay one candidate over every seed's pool of curves."""
    candidate = with_pruner(spec, settings)
    off_best, on_best, saved, budget_trials, budget_best = [], [], [], [], []
    for curves in runs:
        first = list(curves[:compared])
        off = sum(c.epochs for c in first)
        on = replay(candidate, first)
        in_budget = replay(candidate, curves, budget_epochs=off)
        off_best.append(max((c.value for c in first if c.value is not None), default=float("nan")))
        on_best.append(on.best)
        saved.append(1 - on.epochs / off)
        budget_trials.append(in_budget.trials)
        budget_best.append(in_budget.best)
    lost = median(off_best) - median(on_best)
    gain = median(budget_best) - median(off_best)
    return Verdict(median(saved), lost, median(budget_trials), gain,
                   median(saved) >= EPOCHS_SAVED_GOAL and lost <= ACCURACY_LOSS_GOAL)


def choose(verdicts: Mapping[str, Mapping[str, Verdict]]) -> str:
    """The candidate that meets both goals on every task and saves the most epochs on the task
    where it saves least; when none meets them on every task, the one that loses least on its
    worst task, then saves most on that task, then most on average over the tasks."""
    names = list(next(iter(verdicts.values())))
    meeting = [n for n in names if all(v[n].meets for v in verdicts.values())]
    if meeting:
        return max(meeting, key=lambda n: min(v[n].saved for v in verdicts.values()))
    return min(names, key=lambda n: (max(v[n].lost for v in verdicts.values()),
                                      -min(v[n].saved for v in verdicts.values()),
                                      -sum(v[n].saved for v in verdicts.values()) / len(verdicts)))


def described(settings: Mapping[str, Any]) -> str:
    """Pruner settings in words: ``percentile 25, warm-up 1, startup 5``."""
    name = settings["name"]
    if name == "percentile":
        name = f"percentile {settings['percentile']:g}"
    return f"{name}, warm-up {settings['warmup_epochs']}, startup {settings['startup_trials']}"


def tasks_for(quick: bool, trials: int | None) -> dict[str, Task]:
    """The tasks a run compares: ``make bench``'s, the quick ones, or either at ``trials`` trials
    compared of ``trials + EXTRA_RECORDED`` recorded."""
    tasks = QUICK if quick else TASKS
    if trials is None:
        return tasks
    return {name: replace(task, compared=trials, pool=trials + EXTRA_RECORDED) for name, task in tasks.items()}


def task_spec(task: Task) -> Spec:
    """The task's bench spec at the task's epochs per trial (the pruners' budgets depend on them)."""
    from autodl.spec import load_spec

    return load_spec(task.spec).with_overrides(**{"training.epochs": task.epochs})


def record(task: Task, seed: int, trials: int, pruner: Mapping[str, Any] | None) -> list[Curve]:
    """The curves of one search of ``task`` (``trials`` trials, ``seed``), run in a scratch folder
    of its own: without pruning, or with ``pruner`` settings (``{}``: a new spec's default)."""
    spec = task_spec(task).with_overrides(**{
        "name": f"bench-pruning-{task.spec.stem}-s{seed}", "seed": seed, "search.trials": trials})
    spec = with_pruner(spec, {"name": "none"} if pruner is None else pruner)
    with scratch("pruning") as folder, inside(folder):
        return curves_of(search_trials(spec))


def agreement(spec: Spec, real: Sequence[Curve], pool: Sequence[Curve]) -> float:
    """The share of a real pruned search's trials that trained as many epochs as the replay of
    ``spec``'s pruner over the unpruned ``pool`` says they would."""
    simulated = replay(spec, pool[: len(real)])
    epochs = {c.number: c.epochs for c in real}
    return sum(epochs.get(number) == n for number, n in simulated.trained.items()) / len(real)


def main(argv: Sequence[str] | None = None) -> None:
    """Record the pools and the check run, replay every candidate, choose."""
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--trials", type=int, default=None,
                         help="compare this many trials per pool (default: 10, make bench's)")
    args = options.parse_args(argv)
    if args.trials is not None and args.trials < 1:
        options.error(f"--trials must be at least 1. Received: trials={args.trials}")
    from autodl.spec.sections import PrunerSpec

    tasks = tasks_for(args.quick, args.trials)
    seeds = SEEDS[:1] if args.quick else SEEDS
    first = next(iter(tasks))
    default = PrunerSpec().model_dump()
    with ProcessPoolExecutor(LANES, mp_context=multiprocessing.get_context("spawn")) as lanes:
        checking = lanes.submit(record, tasks[first], seeds[0], tasks[first].compared, {})
        pending = {name: [lanes.submit(record, task, seed, task.pool, None) for seed in seeds]
                   for name, task in tasks.items()}
        pools = {name: [job.result() for job in jobs] for name, jobs in pending.items()}
        checked = checking.result()
    verdicts: dict[str, dict[str, Verdict]] = {}
    for name, task in tasks.items():
        verdicts[name] = {label: judge(task_spec(task), settings, pools[name], task.compared)
                          for label, settings in CANDIDATES.items()}
    chosen = choose(verdicts)
    agreed = agreement(with_pruner(task_spec(tasks[first]), default), checked, pools[first][0])
    is_default = PrunerSpec(**CANDIDATES[chosen]) == PrunerSpec()
    figures = []
    for name, by_label in verdicts.items():
        task = tasks[name]
        for label, verdict in by_label.items():
            key = f"pruning.{name}.{label}"
            figures += [
                Figure(f"{key}.saved", verdict.saved, "share",
                       f"epochs saved over {task.compared} trials of {task.epochs} epochs (median of {len(seeds)})"),
                Figure(f"{key}.lost_pp", 100 * verdict.lost, "pp",
                       "median best dev accuracy lost at equal trials (goal <= 0.5)"),
                Figure(f"{key}.budget_trials", verdict.budget_trials, "trials",
                       f"trials run in the epochs of {task.compared} unpruned ones"),
                Figure(f"{key}.budget_gain_pp", 100 * verdict.budget_gain, "pp",
                       "median best dev accuracy gained at that epoch budget"),
            ]
    figures += [
        Figure("pruning.chosen", float(list(CANDIDATES).index(chosen)), "index",
               f"the default chosen: {chosen} ({CANDIDATES[chosen]})"),
        Figure("pruning.default_is_chosen", float(is_default), "bool",
               f"1 if a new spec's default pruner ({described(default)}) is the one chosen"),
        Figure("pruning.replay_agreement", agreed, "share",
               f"trials of a real search with the default pruner ({first}, seed {seeds[0]}) that ended as replayed"),
    ]
    details = {"candidates": CANDIDATES, "chosen": chosen, "default": default,
               "tasks": {n: {**asdict(t), "spec": t.spec.name} for n, t in tasks.items()},
               "verdicts": {n: {k: asdict(v) for k, v in by.items()} for n, by in verdicts.items()},
               "pools": {n: [[asdict(c) for c in curves] for curves in runs] for n, runs in pools.items()}}
    name = "pruning" if args.trials is None else f"pruning-{args.trials}-trials"
    report(name, figures, details, args.out, args.quick)


if __name__ == "__main__":
    main()
