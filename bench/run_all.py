"""Run every benchmark (what `make bench` runs), print one table of figures, and save them.

Each benchmark runs in its own process, one after the other, so they never compete with each
other for the cores; other processes on the machine still can, and this run measures how much
they did (load average, and the CPU time used outside this run). A full run writes
``bench/results/latest.json`` and replaces the figures block of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.common import (
    PYTHON,
    RESULTS,
    ROOT,
    BenchError,
    Figure,
    machine,
    parser,
    run,
    versions,
)

BENCHES = ("startup", "overhead", "memory", "pruning", "search_efficiency", "scaling", "gpu")
RESULTS_MD = ROOT / "bench" / "RESULTS.md"
BLOCK_START = "<!-- figures: written by `make bench` (bench/run_all.py) -->"
BLOCK_END = "<!-- end of figures -->"


def busy_core_seconds() -> float:
    """CPU time the whole machine has spent busy since boot, in core-seconds (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_core_seconds() -> float:
    """CPU time of this process and its finished children, in core-seconds."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class LoadMonitor:
    """Samples the load average while the benchmarks run and, at the end, how much of the
    machine's CPU time went to processes outside this run."""

    def __init__(self, period_s: float = 5.0) -> None:
        self.period_s = period_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.period_s)

    def __enter__(self) -> LoadMonitor:
        self._started = time.perf_counter()
        self._busy = busy_core_seconds()
        self._own = own_core_seconds()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        wall = time.perf_counter() - self._started
        busy = busy_core_seconds() - self._busy
        own = own_core_seconds() - self._own
        cores = os.cpu_count() or 1
        self.summary = {
            "wall_s": round(wall, 1),
            "load_mean": round(sum(self.samples) / max(1, len(self.samples)), 2),
            "load_max": round(max(self.samples, default=0.0), 2),
            "own_core_s": round(own, 1),
            "others_core_s": round(max(0.0, busy - own), 1),
            "others_share": round(max(0.0, busy - own) / (wall * cores), 3),
        }

    def line(self) -> str:
        """How noisy the machine was, in one sentence."""
        s = self.summary
        return (f"Load average {s['load_mean']} on {os.cpu_count()} cores, this run included "
                f"(max {s['load_max']}); "
                f"processes outside this run used {s['others_core_s']} core-seconds, "
                f"{s['others_share']:.0%} of the machine, while it ran.")


def run_bench(name: str, quick: bool, out: Path) -> tuple[float, dict[str, Any] | None, str]:
    """Run one benchmark in its own process; its wall time, saved results, and output (or error)."""
    command = [PYTHON, "-m", f"bench.{name}", "--out", str(out), *(["--quick"] if quick else [])]
    try:
        wall, stdout = run(command, cwd=ROOT)
    except BenchError as error:
        return 0.0, None, str(error)
    return wall, json.loads((out / f"{name}.json").read_text()), stdout


def table(results: dict[str, dict[str, Any]], walls: dict[str, float]) -> list[str]:
    """Every benchmark's figures under a header with its wall time, as printed lines."""
    lines = []
    for name, result in results.items():
        lines.append(f"== {name} ({walls[name]:.0f} s)")
        if result.get("error"):
            lines.append(f"failed: {result['error'].splitlines()[0]}")
        elif result["details"].get("skipped"):
            lines.append(f"skipped: {result['details']['skipped']}")
        lines += [Figure(**figure).line() for figure in result["figures"]]
    return lines


def markdown(document: dict[str, Any], lines: list[str]) -> str:
    """The figures block of RESULTS.md: date, machine, versions, noise, the table."""
    m, v = document["machine"], document["versions"]
    return "\n".join([
        BLOCK_START,
        f"Run of {document['date']}: {document['total_wall_s']:.0f} s for all benchmarks.",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM, GPU: "
        f"{m['gpus'] if m['gpus'] != 'none' else 'none'}; Python {m['python']}, {m['system']}.",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        f"- Noise: {document['noise']}",
        "",
        "```",
        *lines,
        "```",
        BLOCK_END,
    ])


def update_results_md(block: str) -> None:
    """Replace the figures block of RESULTS.md (or append one)."""
    text = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else "# Benchmark results\n"
    if BLOCK_START in text and BLOCK_END in text:
        before, rest = text.split(BLOCK_START, 1)
        after = rest.split(BLOCK_END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS_MD.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmarks in order, print the table, save latest.json and RESULTS.md (a quick run:
    latest-quick.json only); exit 1 if any benchmark failed."""
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="autodl-bench-") as scratch, LoadMonitor() as load:
        for name in BENCHES:
            print(f"-- {name}{' (quick)' if args.quick else ''} ...", flush=True)
            walls[name], result, output = run_bench(name, args.quick, Path(scratch))
            results[name] = result or {"figures": [], "details": {}, "error": output}
            print(output if result else f"failed:\n{output}", flush=True)
    document = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "machine": machine(),
        "versions": versions(),
        "total_wall_s": load.summary["wall_s"],
        "bench_wall_s": {k: round(v, 1) for k, v in walls.items()},
        "load": load.summary,
        "noise": load.line(),
        "results": results,
    }
    lines = table(results, walls)
    print("\n".join(["", *lines, "", f"Total {document['total_wall_s']:.0f} s. {document['noise']}"]))
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / ("latest-quick.json" if args.quick else "latest.json")
    saved.write_text(json.dumps(document, indent=2, default=str) + "\n")
    if not args.quick and args.out == RESULTS:
        update_results_md(markdown(document, lines))
    if any(result.get("error") for result in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
