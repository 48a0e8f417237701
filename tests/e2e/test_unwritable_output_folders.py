"""Read-only and unreadable output folders (``mlruns/`` for the study and the MLflow store,
``best_model/``): each ends `autodl search` with one message and exit 2 that names the folder and
says how to fix it, before any training. ``test_output_folders.py`` covers a read-only
``best_model/`` and full disks.

Read-only: a read-only tmpfs mounted on the folder (skipped where mounting is not allowed).
Unreadable: a folder of mode 000, the search run without the capabilities that let root ignore
file modes (skipped unless this is root with ``setpriv``). No model is trained."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import yaml

SPEC = {
    "name": "tiny", "seed": 0, "data": {"source": "digits"},
    "model": {"family": "mlp", "layers": 1, "units": {"int": [16, 32]}},
    "training": {"epochs": 1}, "search": {"trials": 1, "pruner": {"name": "none"}},
    "diagnostics": {"baselines": False}, "export": {"formats": ["keras"]},
}


def spec_in(folder: Path, tracking: bool) -> Path:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, "tracking": {"enabled": tracking}}, sort_keys=False))
    return path


def search(spec: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, sys.executable, "-m", "autodl", "search", str(spec), "--quiet"],
                          cwd=spec.parent, capture_output=True, text=True, timeout=300)


def one_error(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr and "internal error" not in out.stderr
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("Error: ")
    return line


def without_file_mode_override() -> list[str]:
    """The command prefix that runs a process as root but bound by file modes, or a skip."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to make a folder unreadable to the search")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def search_without_access_to(folder: Path, spec: Path) -> str:
    """The one error line of a search of ``spec`` while ``folder`` exists with no permissions at
    all (restored afterwards, so the test can look inside)."""
    prefix = without_file_mode_override()
    folder.mkdir(mode=0)
    try:
        return one_error(search(spec, *prefix))
    finally:
        folder.chmod(0o755)


UNWRITABLE = {  # the MLflow store, when tracked, is opened first
    False: "The database file mlruns/optuna.db or its folder mlruns/ is not writable (read-only, or no "
           "permission): make both writable, or pass --storage with a SQLite file in a writable folder.",
    True: "The store's folder mlruns/ is not writable (read-only, or no permission): make it writable, or "
          "set tracking.enabled: false.",
}


@pytest.mark.parametrize("tracking", [False, True], ids=["study", "study-and-mlflow"])
def test_a_read_only_mlruns_folder_is_one_message_and_exit_2(
    tmp_path: Path, mount: Callable[[Path, str], None], tracking: bool
) -> None:
    spec = spec_in(tmp_path, tracking)
    mount(tmp_path / "mlruns", "size=1m,ro")
    line = one_error(search(spec))
    assert "Read-only file system" in line and line.endswith(UNWRITABLE[tracking])
    assert not (tmp_path / "best_model").exists()


@pytest.mark.parametrize("tracking", [False, True], ids=["study", "study-and-mlflow"])
def test_an_unreadable_mlruns_folder_is_one_message_and_exit_2(tmp_path: Path, tracking: bool) -> None:
    line = search_without_access_to(tmp_path / "mlruns", spec_in(tmp_path, tracking))
    assert "Permission denied" in line and line.endswith(UNWRITABLE[tracking])
    assert not (tmp_path / "best_model").exists()
    assert list((tmp_path / "mlruns").iterdir()) == []


def test_an_unreadable_best_model_folder_stops_the_search_before_any_training(tmp_path: Path) -> None:
    line = search_without_access_to(tmp_path / "best_model", spec_in(tmp_path, False))
    assert line.startswith("Error: Cannot write the best-model folder best_model/tiny: Permission denied")
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}")
    assert study.trials == [], "no trial started"
