"""A read-only best-model folder and full disks (best model, study, MLflow store), for real: each
folder is a small tmpfs mounted for the test (read-only, or a few kilobytes large), and
`autodl search` runs on the digits MLP.

Each ends in one message and exit code 2, and what the study stored stays loadable. Skipped, with
the reason printed, where this machine does not let the tests mount a file system (not root).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from tests.helpers import REPO

pytestmark = pytest.mark.slow


def spec_in(folder: Path, trials: int, tracking: bool = False) -> Path:
    spec = yaml.safe_load((REPO / "search_spaces" / "digits_mlp.yaml").read_text())
    spec["model"].update(layers=1, units={"int": [16, 32]})
    spec["training"]["epochs"] = 1
    spec["search"].update(trials=trials, pruner={"name": "none"})
    spec["tracking"] = {"enabled": tracking}
    spec["diagnostics"] = {"baselines": False}
    spec["export"] = {"formats": ["keras"]}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def search(spec: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autodl", "search", str(spec), "--quiet"],
                          cwd=spec.parent, capture_output=True, text=True, timeout=600)


def states(storage: Path) -> list[str]:
    study = optuna.load_study(study_name="digits-mlp", storage=f"sqlite:///{storage}")
    return [t.state.name for t in study.trials]


def test_a_read_only_best_model_folder_stops_the_search_before_any_training(tmp_path: Path, mount) -> None:
    spec = spec_in(tmp_path, trials=2)
    mount(tmp_path / "best_model", "size=1m,ro")
    out = search(spec)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.strip() == (
        "Error: Cannot write the best-model folder best_model/digits-mlp: Read-only file system "
        "(best_model/.digits-mlp.lock). Make it writable, or set export.dir to a folder that is; the "
        "study keeps every finished trial, so the same command resumes the search."
    )
    assert states(tmp_path / "mlruns" / "optuna.db") == []


def test_a_full_disk_for_the_best_model_keeps_the_trial_that_could_not_be_saved(tmp_path: Path, mount) -> None:
    spec = spec_in(tmp_path, trials=2)
    mount(tmp_path / "best_model", "size=12k")
    out = search(spec)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().startswith(
        "Error: Cannot write the best-model folder best_model/digits-mlp: No space left on device. "
        "Free some disk space there"
    )
    assert states(tmp_path / "mlruns" / "optuna.db") == ["COMPLETE"]


def test_a_full_disk_under_the_study_ends_the_search_with_its_finished_trials_stored(tmp_path: Path, mount) -> None:
    spec = spec_in(tmp_path, trials=40)
    store = tmp_path / "mlruns"
    mount(store, "size=140k")
    out = search(spec)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "Error: The study storage sqlite:///mlruns/optuna.db failed during the search: "
        "(sqlite3.OperationalError) database or disk is full. The disk holding the database file is "
        "full: free some space there. The finished trials are stored; the same command resumes the search."
    )
    kept = tmp_path / "kept.db"
    kept.write_bytes((store / "optuna.db").read_bytes())
    finished = states(kept)
    assert 0 < finished.count("COMPLETE") < 40 and set(finished) <= {"COMPLETE", "RUNNING"}


def test_a_full_disk_under_the_mlflow_store_ends_the_search_with_one_message(tmp_path: Path, mount) -> None:
    spec = spec_in(tmp_path, trials=60, tracking=True)
    store = tmp_path / "mlruns"
    mount(store, "size=1400k")
    out = search(spec)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert out.stderr.strip() == (
        "Error: Cannot log the search to the MLflow tracking store sqlite:///mlruns/mlflow.db: "
        "(sqlite3.OperationalError) database or disk is full. Free some disk space where the store "
        "lives, or set tracking.enabled: false; the study keeps every finished trial, so the same "
        "command resumes the search."
    )
