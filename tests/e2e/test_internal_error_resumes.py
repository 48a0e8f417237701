"""An internal error (a bug in autodl) in the middle of a real search is one line with the
exception, its traceback in a log file whose path is printed, exit code 3; the study and its
finished trials stay intact, and the same command resumes the search to ``search.trials``.

The bug is injected into the search's progress display when trial 2 starts (the trial is then
RUNNING in the study, as a crash would leave it). Lean: a 1-layer MLP, 1 epoch, 3 trials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

pytestmark = pytest.mark.slow

NAME = "bug-mid-search"
INJECT = """
import sys
from autodl.search import progress

started = progress.SearchProgress.trial_started

def trial_started(self, number, *args, **kwargs):
    if number == 2:
        raise ZeroDivisionError("injected bug at trial 2")
    return started(self, number, *args, **kwargs)

progress.SearchProgress.trial_started = trial_started
from autodl.cli import main
sys.argv = ["autodl", *sys.argv[1:]]
main()
"""


def test_a_bug_mid_search_is_exit_3_with_a_log_and_the_study_resumes(tmp_path: Path) -> None:
    spec = {
        "name": NAME, "seed": 0, "data": {"source": "digits"},
        "model": {"family": "mlp", "layers": 1, "units": {"int": [16, 32]}},
        "training": {"epochs": 1}, "search": {"trials": 3, "pruner": {"name": "none"}},
        "tracking": {"enabled": False}, "diagnostics": {"baselines": False}, "export": {"formats": ["keras"]},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    logs = tmp_path / "tmp"
    logs.mkdir()
    env = {**os.environ, "TMPDIR": str(logs)}
    broken = subprocess.run([sys.executable, "-c", INJECT, "search", str(path), "--quiet"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=300)
    assert broken.returncode == 3, broken.stdout + broken.stderr
    [log] = logs.glob("autodl-error-*.log")
    assert broken.stderr.strip() == (
        "autodl hit an internal error (a bug): ZeroDivisionError: injected bug at trial 2. The traceback is "
        f"in {log}; please report it."
    )
    assert "Traceback" not in broken.stdout + broken.stderr
    assert "Traceback (most recent call last):" in log.read_text() and "injected bug" in log.read_text()

    storage = f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}"
    before = optuna.load_study(study_name=NAME, storage=storage).trials
    assert [t.state.name for t in before] == ["COMPLETE", "COMPLETE", "RUNNING"]

    again = subprocess.run([sys.executable, "-m", "autodl", "search", str(path), "--quiet"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    after = optuna.load_study(study_name=NAME, storage=storage).trials
    for old in before[:2]:
        assert (after[old.number].state, after[old.number].value, after[old.number].params) == (
            old.state, old.value, old.params)
    kept = [t for t in after if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(kept) == 3, [t.state.name for t in after]
    assert after[2].state.name == "FAIL"
    assert [t.user_attrs.get("retry_of") for t in after].count(2) == 1
