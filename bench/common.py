"""What every benchmark shares: running and timing commands, resident memory, reading a study
back as trial records, and printing and saving figures in one format that people and code read.

A figure prints as one line, ``key  value  unit  label``, so that ``run_all`` and the tests parse
exactly what a person sees. This module imports neither TensorFlow nor Optuna at load time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from autodl.runtime.devices import listed_gpus

if TYPE_CHECKING:
    from autodl.spec import Spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "bench" / "specs"
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
AUTODL = str(Path(sys.executable).parent / "autodl")
CHILD_PREFIX = "BENCH-CHILD "
FIGURE_LINE = re.compile(
    r"^(?P<key>[a-z][a-z0-9_.\-]*)\s+(?P<value>\S+)\s+(?P<unit>\S+)\s+(?P<label>\S.*)$"
)
VERSIONED = ("tensorflow", "keras", "optuna", "keras-tuner", "mlflow", "tensorboard", "autodl")


class BenchError(RuntimeError):
    """A command the benchmark ran failed; the message holds the end of its output."""


@dataclass(frozen=True)
class Figure:
    """One measured number: a dotted key, the value, its unit (one word) and what it means."""

    key: str
    value: float
    unit: str
    label: str

    def line(self) -> str:
        """The figure as printed: ``key value unit label``."""
        return f"{self.key:<40} {format_value(self.value):>10} {self.unit:<9} {self.label}"


def format_value(value: float) -> str:
    """Four significant digits; ``inf`` and ``nan`` as Python spells them (``float`` reads both)."""
    return f"{value:.4g}"


def parse_figures(text: str) -> dict[str, Figure]:
    """The figures printed in ``text``, by key; other lines are ignored."""
    found: dict[str, Figure] = {}
    for line in text.splitlines():
        match = FIGURE_LINE.match(line)
        if match is None:
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue
        found[match["key"]] = Figure(match["key"], value, match["unit"], match["label"])
    return found


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, ``nan`` where that has no meaning (a zero or infinite side)."""
    if denominator == 0 or not math.isfinite(numerator) or not math.isfinite(denominator):
        return math.nan
    return numerator / denominator


def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark script takes: ``--quick`` and ``--out``."""
    found = argparse.ArgumentParser(description=description)
    found.add_argument("--quick", action="store_true",
                       help="smoke run with tiny budgets (seconds to a minute); figures are not meaningful")
    found.add_argument("--out", type=Path, default=RESULTS,
                       help=f"folder for the JSON results (default: {RESULTS.relative_to(ROOT)})")
    return found


def report(bench: str, figures: Sequence[Figure], details: dict[str, Any], out: Path,
           quick: bool) -> None:
    """Print the figures under a header and save them with the details to ``out/<bench>.json``."""
    print(f"== {bench}{' (quick)' if quick else ''}", flush=True)
    for figure in figures:
        print(figure.line(), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    document = {"bench": bench, "quick": quick, "figures": [asdict(f) for f in figures],
                "details": details}
    (out / f"{bench}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment with ``bench`` importable and TensorFlow's C++ logs off."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.update(extra or {})
    return env


def run(command: Sequence[str], cwd: Path | None = None,
        env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run a command to its end; return its wall time in seconds and its standard output.

    A non-zero exit raises ``BenchError`` with the end of its output, so a broken run never turns
    into a figure.
    """
    started = time.perf_counter()
    done = subprocess.run(list(command), cwd=cwd, env=environment(env), capture_output=True,
                          text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-3000:]
        raise BenchError(f"{' '.join(map(str, command))} exited with {done.returncode}:\n{tail}")
    return wall, done.stdout


def run_autodl(arguments: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Run the ``autodl`` command line in ``cwd`` (where its mlruns/ and best_model/ land);
    return its wall time."""
    wall, _ = run([AUTODL, *arguments], cwd=cwd, env=env)
    return wall


def run_child(module: str, arguments: Sequence[str], cwd: Path | None = None,
              env: dict[str, str] | None = None) -> tuple[float, dict[str, Any]]:
    """Run ``python -m module`` (a benchmark's child mode) in a fresh process; return its wall time
    and the result it printed with ``child_result``."""
    wall, stdout = run([PYTHON, "-m", module, *arguments], cwd=cwd, env=env)
    for line in stdout.splitlines():
        if line.startswith(CHILD_PREFIX):
            return wall, json.loads(line.removeprefix(CHILD_PREFIX))
    raise BenchError(f"python -m {module} printed no result line:\n{stdout[-3000:]}")


def child_result(result: dict[str, Any]) -> None:
    """Hand a child process's result to its parent (``run_child``)."""
    print(CHILD_PREFIX + json.dumps(result), flush=True)


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (VmRSS from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"/proc/{pid}/status has no VmRSS line")


def slope(values: Sequence[float], skip: int = 0) -> float:
    """Least-squares slope of ``values`` against their 1-based index, after the first ``skip``."""
    kept = list(values)[skip:]
    if len(kept) < 2:
        return math.nan
    xs = [float(i) for i in range(skip + 1, skip + 1 + len(kept))]
    return statistics.linear_regression(xs, kept).slope


def median(values: Iterable[float]) -> float:
    """The median; ``inf`` counts as a value (a target never reached)."""
    kept = list(values)
    return statistics.median(kept) if kept else math.nan


@dataclass(frozen=True)
class Record:
    """One finished trial as the benchmarks compare them, whichever tool ran it.

    ``number`` counts from 0 in the order trials started; ``end_s`` is when it ended, in seconds
    after the search's first trial started; ``value`` is the dev score of its final weights
    (``None`` unless it completed); ``epochs`` it trained.
    """

    number: int
    end_s: float
    value: float | None
    state: str
    epochs: int


def study_records(workdir: Path, study_name: str) -> list[Record]:
    """The finished trials of an autodl study stored in ``workdir/mlruns/optuna.db``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{workdir / 'mlruns' / 'optuna.db'}"
    study = optuna.load_study(study_name=study_name, storage=storage)
    return trial_records(study.get_trials(deepcopy=False))


def trial_records(trials: Sequence[Any]) -> list[Record]:
    """Optuna trials as records; time counts from the earliest trial start."""
    finished = [t for t in trials if t.datetime_complete is not None]
    if not finished:
        return []
    first = min(t.datetime_start for t in finished)
    return [
        Record(
            t.number,
            (t.datetime_complete - first).total_seconds(),
            t.value if t.user_attrs.get("state") == "complete" else None,
            str(t.user_attrs.get("state", t.state.name.lower())),
            int(t.user_attrs.get("epochs") or 0),
        )
        for t in sorted(finished, key=lambda t: t.datetime_complete)
    ]


def search_loop(spec: Spec) -> list[Record]:
    """Run an autodl search in this process, in the working directory, and return its trials
    as records (see ``search_trials``)."""
    return trial_records(search_trials(spec))


def search_trials(spec: Spec) -> list[Any]:
    """Run an autodl search in this process, in the working directory, and return its Optuna
    trials (with each epoch's objective value as an intermediate value).

    These are the pipeline's own stages (``prepare``, tracking, ``optimize``) with MLflow tracking
    on, without the final test evaluation and export that ``autodl search`` adds once the search
    is over (``overhead.py`` times those). Runs in one process share the MLflow store, as searches
    in one project folder do.
    """
    from autodl.pipeline import prepare
    from autodl.search import SearchEnd, optimize

    run = prepare(spec)
    run.start([run.tracker])
    result = optimize(spec, run.study, run.objective, [run.tracker], run.save_best(), run.lock,
                      facts=run.data.facts())
    run.tracker.search_ended(SearchEnd("FINISHED", result.counts, result.stages))
    return result.study.get_trials(deepcopy=False)


def summarize(records: Sequence[Record], target: float | None = None) -> dict[str, float]:
    """Counts, epochs, search time, best complete score and the time the first complete trial at
    or above ``target`` ended (``inf`` when none did). Scores are maximized."""
    complete = [r for r in records if r.value is not None]
    reached = [r.end_s for r in complete if target is not None and r.value >= target]
    return {
        "trials": len(records),
        "complete": len(complete),
        "pruned": sum(r.state == "pruned" for r in records),
        "failed": sum(r.state == "failed" for r in records),
        "epochs": sum(r.epochs for r in records),
        "search_s": max((r.end_s for r in records), default=0.0),
        "best": max((r.value for r in complete), default=math.nan),
        "time_to_target_s": min(reached, default=math.inf),
    }


def derive_spec(source: Path, folder: Path, changes: dict[str, Any]) -> Path:
    """Write a copy of the spec ``source`` into ``folder`` with dotted-path ``changes`` applied.

    A relative ``data.source`` that exists beside the original is made absolute, so the copy
    reads the same data.
    """
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    data_source = document["data"]["source"]
    beside = (source.parent / data_source).resolve()
    if not Path(data_source).is_absolute() and beside.exists():
        document["data"]["source"] = str(beside)
    for dotted, value in changes.items():
        node = document
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target


@contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A temporary working folder for one run, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"autodl-bench-{name}-") as folder:
        yield Path(folder)


@contextmanager
def inside(folder: Path) -> Iterator[None]:
    """Run the block with ``folder`` as the working directory (autodl's stores are relative)."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def machine() -> dict[str, Any]:
    """The CPU model, cores, memory and GPUs of this machine, from /proc and nvidia-smi."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024**2, 1),
        "gpus": listed_gpus() or "none",
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def versions() -> dict[str, str]:
    """Installed versions of the packages the figures depend on."""
    found = {}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
