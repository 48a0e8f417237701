"""Several processes on one spec in one folder, and a process killed at the end of a search: the
best-model folder always belongs to one trial, the study's best when the last process ends, and
nothing finished is lost.

Each run is a real `autodl search` (or `autodl worker`) process on the digits MLP (2 epochs,
tracking off), so the processes really overlap and the kill really lands during the export.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from tests.helpers import REPO, digits_csv, write_module

pytestmark = pytest.mark.slow

NAME = "digits-mlp"


def write_spec(folder: Path, trials: int) -> Path:
    spec = yaml.safe_load((REPO / "search_spaces" / "digits_mlp.yaml").read_text())
    spec["training"]["epochs"] = 2
    spec["search"].update(trials=trials, pruner={"name": "none"})
    spec["tracking"] = {"enabled": False}
    spec["diagnostics"] = {"baselines": False}
    spec["export"] = {"formats": ["keras", "saved_model"]}
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def start(spec: Path, *args: str, command: str = "search", **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "autodl", command, str(spec), "--quiet", *args],
                            cwd=spec.parent, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def study_of(folder: Path) -> optuna.Study:
    return optuna.load_study(study_name=NAME, storage=f"sqlite:///{folder / 'mlruns' / 'optuna.db'}")


def consistent_trial(folder: Path) -> int:
    """The one trial every file of the best-model folder belongs to."""
    best = folder / "best_model" / NAME
    record = json.loads((best / "best.json").read_text())
    exported = json.loads((best / "export" / "export.json").read_text())
    assert exported["trial"] == record["trial"] and record["diagnosis"]["verdict"]
    assert f"**Verdict:** {record['diagnosis']['verdict']}." in (best / "diagnosis.md").read_text()
    assert (best / "model.keras").is_file() and (best / "export" / "model.keras").is_file()
    assert sorted(p.name for p in best.parent.iterdir()) == [f".{NAME}.lock", NAME], "no staging left behind"
    return int(record["trial"])


def test_two_searches_of_one_spec_in_one_folder_share_the_budget_and_the_folder(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, trials=6)
    first, second = start(spec), start(spec)
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], "\n".join(outputs)
    study = study_of(tmp_path)
    assert len(study.trials) == 6 and all(t.state.is_finished() for t in study.trials)
    workers = {t.user_attrs["worker"] for t in study.trials}
    assert len(workers) == 2, f"both processes ran trials: {workers}"
    assert consistent_trial(tmp_path) == study.best_trial.number


def test_a_kill_during_the_export_leaves_the_previous_folder_and_a_rerun_completes_it(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, trials=2)
    done = start(spec)
    assert done.wait(timeout=600) == 0, done.communicate()[0]
    before = consistent_trial(tmp_path)
    record_before = (tmp_path / "best_model" / NAME / "best.json").read_text()

    process = start(spec, "--trials", "4")
    deadline = time.monotonic() + 900
    staged = None
    while time.monotonic() < deadline and process.poll() is None:
        staged = next(tmp_path.joinpath("best_model").glob(f".{NAME}.stage-*/.export.staging/*"), None)
        if staged is not None:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait(timeout=60)
    assert staged is not None, "the search ended before its export could be caught"
    assert (tmp_path / "best_model" / NAME / "best.json").read_text() == record_before
    assert json.loads((tmp_path / "best_model" / NAME / "export" / "export.json").read_text())["trial"] == before
    assert len(study_of(tmp_path).trials) == 4

    again = start(spec, "--trials", "4")
    output = again.communicate(timeout=600)[0]
    assert again.returncode == 0, output
    study = study_of(tmp_path)
    assert len(study.trials) == 4, "the rerun trained no new trial"
    assert "(0 run now)" in output
    assert consistent_trial(tmp_path) == study.best_trial.number


ROLES = """
    import os
    import time
    from pathlib import Path

    import keras
    import optuna

    def until(done, what):
        deadline = time.monotonic() + 120  # a loaded machine starts a process slowly
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(what)
            time.sleep(0.2)

    def build(hp):
        units = hp.Int("units", 16, 32)
        started = Path("worker-started")
        if os.environ["ROLE"] == "worker":
            started.touch()
            study = optuna.load_study(study_name=os.environ["STUDY"], storage=os.environ["STORAGE"])
            until(lambda: any(t.state.is_finished() for t in study.trials), "the search's trial")
            time.sleep(3)  # the search has reached its budget meanwhile
            rate = 0.01
        else:
            Path("search-started").touch()
            until(started.exists, "the worker's trial")
            rate = 1e-7
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(units, activation="relu"),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model
"""


def test_a_worker_that_finishes_the_best_trial_last_leaves_it_in_the_best_model_folder(tmp_path: Path) -> None:
    """`autodl search` and an `autodl worker` started apart, one trial each: the search's trial
    (which barely learns) waits for the worker to claim its own, and the worker's (the study's
    best) ends after the search has reached its budget."""
    write_module(tmp_path, "roles", ROLES)
    digits_csv(tmp_path / "digits.csv")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({
        "name": NAME, "seed": 0, "data": {"source": "digits.csv"},
        "model": {"family": "custom", "build": "roles:build"},
        "training": {"epochs": 1}, "search": {"trials": 2, "pruner": {"name": "none"}},
        "tracking": {"enabled": False}, "diagnostics": {"baselines": False}, "export": {"formats": ["keras"]},
    }, sort_keys=False))
    roles = {"STUDY": NAME, "STORAGE": f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}"}
    searching = start(spec, ROLE="search", **roles)
    deadline = time.monotonic() + 120
    while not (tmp_path / "search-started").exists():  # its trial runs: the worker gets the other
        assert time.monotonic() < deadline and searching.poll() is None, searching.communicate()[0]
        time.sleep(0.2)
    working = start(spec, command="worker", ROLE="worker", **roles)
    outputs = [p.communicate(timeout=300)[0] for p in (searching, working)]
    assert [searching.returncode, working.returncode] == [0, 0], "\n".join(outputs)
    study = study_of(tmp_path)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert study.best_trial.number == 1, "the worker's trial learns, the search's barely"
    assert consistent_trial(tmp_path) == 1
