"""The benchmarks' smoke test: the start-up benchmark runs in quick mode and prints figures that
parse. The heavier benchmarks run only with `make bench`."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, parse_figures

STARTUP_KEYS = {
    "startup.tf_import_s", "startup.help_s", "startup.validate_s", "startup.help_ratio",
    "startup.validate_ratio", "startup.validate_loads_tf",
}


def test_startup_quick_prints_figures_that_parse(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.startup", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = parse_figures(done.stdout)
    assert set(figures) == STARTUP_KEYS
    assert all(figures[k].value > 0 for k in ("startup.tf_import_s", "startup.help_s", "startup.validate_s"))
    assert figures["startup.validate_loads_tf"].value in (0.0, 1.0)
    expected = figures["startup.help_s"].value / figures["startup.tf_import_s"].value
    assert math.isclose(figures["startup.help_ratio"].value, expected, rel_tol=0.01)
    saved = json.loads((tmp_path / "startup.json").read_text())
    assert saved["quick"] is True and {f["key"] for f in saved["figures"]} == STARTUP_KEYS
