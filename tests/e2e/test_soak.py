"""Load: 200 one-epoch trials of a small digits MLP in one study, with 3 worker processes, on SQLite
and on PostgreSQL (skipped when no server answers), each study tracked to its own MLflow store.

Each study must end with exactly 200 finished trials, numbered 0..199 once each, one MLflow child
run per trial and none left RUNNING; the memory of each ``autodl search`` parent process is
sampled while its workers run and must stay flat. The slopes (parent and workers, MiB per 100
finished trials) are printed, so a leak shows as a number, not only as a failure.

The workers do grow: TensorFlow keeps a few MiB of every traced model for the life of a process
(measured on 2026-12-02: about 150 MiB per 100 trials per worker, the same as a bare Keras loop
with ``clear_session``), which is what ``runtime.trials_per_process`` gives back; the parent,
which only follows the study and finalizes, holds no model and stays flat.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

from tests.helpers import REPO

pytestmark = pytest.mark.slow

TRIALS = 200
WORKERS = 3
FLAT_MIB_PER_100_TRIALS = 16.0
"""The most a parent's memory may grow per 100 finished trials and still count as flat."""


def rss_mib(pid: int) -> float | None:
    """A process's resident memory from /proc, or ``None`` once it has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return int(kib) / 1024 if kib is not None else None


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (the workers of a search)."""
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(p) for p in found]


def slope_per_100(samples: list[tuple[int, float]]) -> float:
    """Least-squares growth of memory, in MiB per 100 finished trials, over the samples taken after
    the first tenth of the trials (start-up allocations are not a leak)."""
    kept = [(n, m) for n, m in samples if n >= TRIALS // 10]
    if len({n for n, _ in kept}) < 3:
        return 0.0
    trials, mib = np.array(kept, dtype=float).T
    return float(np.polyfit(trials, mib, 1)[0] * 100)


@dataclass
class Soak:
    """One search under load and what was sampled of it."""

    label: str
    folder: Path
    storage: str
    name: str
    process: subprocess.Popen[str] | None = None
    parent: list[tuple[int, float]] = field(default_factory=list)
    workers: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    loaded: optuna.Study | None = None

    def start(self) -> None:
        spec = yaml.safe_load((REPO / "search_spaces" / "digits_mlp.yaml").read_text())
        spec["name"] = self.name
        spec["model"].update(layers=1, units={"int": [16, 64], "log": True}, batch_norm=False)
        spec["training"].update(epochs=1, batch_size=256)
        spec["search"].update(trials=TRIALS, pruner={"name": "none"})
        spec["diagnostics"] = {"baselines": False}
        spec["export"] = {"formats": ["keras"]}
        path = self.folder / "spec.yaml"
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autodl", "search", str(path), "--quiet", "--workers", str(WORKERS),
             "--storage", self.storage],
            cwd=self.folder, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def sample(self, finished: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        memory = rss_mib(self.process.pid)
        if memory is not None:
            self.parent.append((finished, memory))
        for pid in children(self.process.pid):
            worker = rss_mib(pid)
            if worker is not None:
                self.workers.setdefault(pid, []).append((finished, worker))

    def study(self) -> optuna.Study:
        if self.loaded is None:
            self.loaded = optuna.load_study(study_name=self.name, storage=self.storage)
        return self.loaded


def finished_trials(soak: Soak) -> int:
    """Finished trials so far; 0 until the search has created its study."""
    if soak.storage.startswith("sqlite") and not (soak.folder / "mlruns" / "optuna.db").is_file():
        return 0
    try:
        return sum(t.state.is_finished() for t in soak.study().get_trials(deepcopy=False))
    except KeyError:
        return 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_200_trials_with_3_workers(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    name = f"soak-{uuid.uuid4().hex[:8]}"
    storage = (f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}" if backend == "sqlite"
               else request.getfixturevalue("postgres"))
    soak = Soak(backend, tmp_path, storage, name)
    try:
        soak.start()
        deadline = time.monotonic() + 1500
        while soak.process is not None and soak.process.poll() is None:
            assert time.monotonic() < deadline, "the soak search did not end in 25 minutes"
            soak.sample(finished_trials(soak))
            time.sleep(2)
        assert soak.process is not None
        output = soak.process.communicate()[0]
        assert soak.process.returncode == 0, f"{soak.label}:\n{output}"
        check_study(soak, output)
        parent = slope_per_100(soak.parent)
        workers = [slope_per_100(samples) for samples in soak.workers.values() if len(samples) > 3]
        report = (f"{soak.label}: parent {parent:+.1f} MiB per 100 trials ({len(soak.parent)} samples, "
                  f"{soak.parent[0][1]:.0f} -> {soak.parent[-1][1]:.0f} MiB); "
                  f"workers {', '.join(f'{w:+.1f}' for w in workers)} MiB per 100 trials")
        print(f"\nsoak memory: {report}")
        assert parent < FLAT_MIB_PER_100_TRIALS, report
    finally:
        if soak.process is not None and soak.process.poll() is None:
            soak.process.kill()
        if backend == "postgresql":
            with contextlib.suppress(KeyError):
                optuna.delete_study(study_name=name, storage=storage)


def check_study(soak: Soak, output: str) -> None:
    """Exactly TRIALS finished trials, each number once, spread over the workers, each with one
    finished MLflow child run of the search's one parent run."""
    import mlflow

    trials = soak.study().trials
    assert sorted(t.number for t in trials) == list(range(TRIALS)), f"{soak.label}: lost or extra trials"
    assert Counter(t.state.name for t in trials) == {"COMPLETE": TRIALS}, soak.label
    workers = Counter(t.user_attrs["worker"] for t in trials)
    assert len(workers) >= WORKERS, f"{soak.label}: {workers}"
    assert f"{soak.name}: stopped (reached {TRIALS} trials); {TRIALS} complete, 0 pruned, 0 failed" in output
    client = mlflow.MlflowClient(f"sqlite:///{soak.folder / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(soak.name)
    runs = client.search_runs([experiment.experiment_id], max_results=5000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    trial_runs = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1, f"{soak.label}: {len(parents)} parent runs"
    assert sorted(int(r.data.tags["trial"]) for r in trial_runs) == list(range(TRIALS)), (
        f"{soak.label}: MLflow trial runs lost or duplicated"
    )
    assert {r.data.tags["mlflow.parentRunId"] for r in trial_runs} == {parents[0].info.run_id}
    assert Counter(r.info.status for r in runs) == {"FINISHED": TRIALS + 1}, soak.label
