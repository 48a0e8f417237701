"""The search engine's options through the real CLI: grid, the patient pruner, the epoch budget,
and local worker processes. Marked slow (they train small networks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

pytestmark = pytest.mark.slow


MLP = {"family": "mlp", "layers": 1, "units": {"choice": [16, 64]}}


def run(spec: dict, folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    path = folder / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return subprocess.run([sys.executable, "-m", "autodl", "search", str(path), *options],
                          cwd=folder, capture_output=True, text=True, timeout=600)


def study(folder: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{folder / 'mlruns' / 'optuna.db'}")


def test_grid_with_a_patient_pruner_tries_every_point(tmp_path: Path) -> None:
    spec = {"name": "grid", "data": {"source": "digits"}, "model": MLP,
            "optimizer": {"name": "adam", "learning_rate": {"float": [1e-3, 1e-2], "scale": "log"}},
            "training": {"epochs": 3},
            "search": {"strategy": "grid", "grid_points": 2, "trials": 10,
                       "pruner": {"name": "patient", "wraps": "median", "patience": 1}}}
    out = run(spec, tmp_path, "--quiet")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "grid: stopped (tried every point of the grid (4));" in out.stdout
    trials = study(tmp_path, "grid").trials
    assert sorted((t.params["model.units"], round(t.params["optimizer.learning_rate"], 6))
                  for t in trials) == [(16, 0.001), (16, 0.01), (64, 0.001), (64, 0.01)]
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)


def test_max_epochs_budget_and_two_local_workers_replaced_after_each_trial(tmp_path: Path) -> None:
    spec = {"name": "budget", "data": {"source": "digits"}, "model": MLP,
            "optimizer": {"name": "adam", "learning_rate": 0.01},
            "training": {"epochs": 4},
            "search": {"trials": 30, "max_epochs": 14, "pruner": {"name": "none"}},
            "runtime": {"trials_per_process": 1}}
    out = run(spec, tmp_path, "--workers", "2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "budget: stopped (spent the budget of 14 epochs (16 trained))" in out.stdout
    assert "2 workers on CPU, 1 threads each" in out.stderr
    trials = study(tmp_path, "budget").trials
    assert len(trials) == 4 and {t.user_attrs["epochs"] for t in trials} == {4}
    assert len({t.user_attrs["worker"] for t in trials}) == 4


def test_queued_configurations_run_first_and_a_warm_start_carries_the_best_over(tmp_path: Path) -> None:
    optimizer = {"name": "adam", "learning_rate": {"float": [1e-4, 1e-1], "scale": "log"},
                 "beta_1": {"float": [0.8, 0.99], "scale": "inv_log"}}
    first = {"name": "first", "data": {"source": "digits"}, "model": MLP, "optimizer": optimizer,
             "training": {"epochs": 1}, "diagnostics": {"baselines": False}, "export": {"formats": []},
             "search": {"strategy": "tpe", "trials": 3, "pruner": {"name": "none"},
                        "enqueue": [{"model.units": 64, "optimizer.learning_rate": 0.01, "optimizer.beta_1": 0.95},
                                    {"model.units": 16}]}}
    out = run(first, tmp_path, "--quiet")
    assert out.returncode == 0, out.stdout + out.stderr
    trials = study(tmp_path, "first").trials
    assert [t.user_attrs.get("enqueued_from") for t in trials] == ["search.enqueue", "search.enqueue", None]
    assert trials[0].user_attrs["params"]["optimizer.learning_rate"] == 0.01
    assert trials[0].user_attrs["params"]["optimizer.beta_1"] == pytest.approx(0.95)
    assert [t.user_attrs["params"]["model.units"] for t in trials[:2]] == [64, 16]
    again = run(first, tmp_path, "--quiet", "--trials", "4")
    assert again.returncode == 0 and len(study(tmp_path, "first").trials) == 4  # not queued twice

    later = {**first, "name": "later", "model": {**MLP, "units": {"choice": [32, 64]}},
             "search": {"strategy": "tpe", "trials": 2, "pruner": {"name": "none"}}}
    out = run(later, tmp_path, "--warm-start", "first")
    assert out.returncode == 0, out.stdout + out.stderr
    earlier = sorted((t for t in study(tmp_path, "first").trials if t.value is not None),
                     key=lambda t: -float(t.value))
    queued = study(tmp_path, "later").trials
    assert [t.user_attrs.get("enqueued_from") for t in queued] == ["study first", "study first"]
    for carried, source in zip(queued, earlier, strict=False):
        ours, theirs = carried.user_attrs["params"], source.user_attrs["params"]
        assert ours["optimizer.learning_rate"] == pytest.approx(theirs["optimizer.learning_rate"])
        if theirs["model.units"] == 64:
            assert ours["model.units"] == 64
        else:
            assert f"skipped model.units={theirs['model.units']} (outside choice [32, 64])" in out.stderr
