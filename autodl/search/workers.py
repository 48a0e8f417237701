"""Several worker processes on this machine sharing one study: ``autodl search --workers N``.

Each worker is an ``autodl worker`` process, exactly what another machine runs to join the study;
this process starts them (one GPU each when there are GPUs, the CPU cores shared otherwise),
follows the study while they run, and reports how the search ended.
"""

from __future__ import annotations

import subprocess
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import optuna

from autodl.errors import AutodlError
from autodl.runtime import devices
from autodl.runtime.log import logger
from autodl.search.loop import POLL_S, Lock, SearchEnd, SearchResult, SearchStart, stop_reason
from autodl.search.progress import SearchProgress
from autodl.search.study import finished_count, recover
from autodl.spec import Spec

WORKER_ENDS = (0, 1, 130)
"""A worker's exit codes that are no error: done, done without a best trial (or gave up after
``search.max_failed_trials`` failures in a row), interrupted."""


@dataclass(frozen=True)
class Workers:
    """How many worker processes to start, the command line that starts one, and environment
    variables for it (URLs that may hold passwords travel there, not in the visible command)."""

    count: int
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


def run_workers(spec: Spec, study: optuna.Study, workers: Workers, live: bool,
                lock: Lock = nullcontext) -> SearchResult:
    """Start the workers, show the study's progress until they all exit and no other process (an
    ``autodl worker`` started apart) runs a trial of the study, and say why they stopped.

    A worker that ended (its share, ``runtime.trials_per_process``, or its part of the budget)
    while budget is left again is replaced by a fresh process: budget comes back when a trial is
    lost with its process (failed and queued again, under the study's ``lock``). Ctrl-C reaches
    the workers too (same process group): each fails its running trial and exits, and the search
    ends as interrupted.
    """
    gpus = devices.visible_gpus()
    started = time.monotonic()
    before = finished_count(study)

    def start(i: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [*workers.command, "--label", f"worker {i + 1}"],
            env={**devices.worker_env(i, workers.count, spec.runtime, gpus), **workers.env},
        )

    processes = [start(i) for i in range(workers.count)]
    placement = (
        f"GPUs {', '.join(gpus[i % len(gpus)] for i in range(workers.count))}" if gpus
        else f"CPU, {devices.threads_per_worker(workers.count, spec.runtime)} threads each"
    )
    logger.info("%d workers on %s (pids %s)", workers.count, placement,
                ", ".join(str(p.pid) for p in processes))
    interrupted = False
    progress = SearchProgress(spec.search.objective.metric, live)
    progress.search_started(SearchStart(spec.name, spec.text, {}, spec.search.trials, before))
    told = False
    try:
        while True:
            for i, process in enumerate(processes):
                if process.poll() == 0 and stop_reason(spec, study, started) is None:
                    processes[i] = start(i)
            codes = [p.poll() for p in processes]
            if None not in codes:
                if not set(codes) <= {0, 1}:
                    break
                with lock():  # the trials of dead processes are failed and queued again first
                    running = recover(study)
                if not running and (0 not in codes or stop_reason(spec, study, started) is not None):
                    break
                if running and not told:
                    logger.info("the workers ended; waiting for trial%s %s, which other processes are running",
                                "s" if len(running) > 1 else "", ", ".join(f"#{n}" for n in sorted(running)))
                    told = True
            progress.show_done(finished_count(study))
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        interrupted = True
        for process in processes:
            process.wait()
    finally:
        progress.search_ended(SearchEnd("KILLED" if interrupted else "FINISHED"))
    codes = [p.returncode for p in processes]
    failed = [f"worker {i + 1} (exit code {c})" for i, c in enumerate(codes) if c not in WORKER_ENDS]
    if failed and not interrupted:
        raise AutodlError(
            f"{', '.join(failed)} stopped with an error (its message is above); the trials already "
            "finished are kept in the study. Fix the cause and run the search again to resume."
        )
    budget = stop_reason(spec, study, started)
    gave_up = [f"worker {i + 1}" for i, c in enumerate(codes) if c == 1] if budget is None else []
    if interrupted or 130 in codes:
        reason = "interrupted"
    elif gave_up:
        reason = f"{', '.join(gave_up)} stopped after search.max_failed_trials failed trials in a row"
    else:
        reason = budget or "the workers stopped"
    return SearchResult.of(spec, study, reason, finished_count(study) - before, bool(gave_up))
