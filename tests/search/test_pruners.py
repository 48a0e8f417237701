"""Pruners by name: the median pruner after its warm-up, every pruner built, the patient pruner."""

from __future__ import annotations

import optuna
import pytest

from autodl.search.loop import optimize
from autodl.search.pruners import PRUNERS
from autodl.spec.sections import PrunerSpec
from tests.helpers import Recorder, by_filters, curve_objective, make_spec, new_study


def test_median_pruner_stops_bad_trials_after_warmup(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=12, pruner={"name": "median", "warmup_epochs": 2, "startup_trials": 3})
    recorder = Recorder()
    result = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [recorder],
                             lambda t, o: None)
    pruned = [t for t in result.study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "some low-filter trials are pruned"
    for trial in pruned:
        assert trial.user_attrs["pruned_epoch"] >= 3
        assert trial.user_attrs["state"] == "pruned"
        assert trial.params["model.filters"] < 64
    assert all(t.state != optuna.trial.TrialState.PRUNED for t in result.study.trials[:3])
    assert result.counts["pruned"] == len(pruned)


@pytest.mark.parametrize("name", list(PRUNERS))
def test_every_pruner_by_name(name: str, write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=8, pruner={"name": name, "warmup_epochs": 1, "startup_trials": 2})
    study = new_study(spec, tmp_path)
    result = optimize(spec, study, curve_objective(by_filters), [], lambda t, o: None)
    assert sum(result.counts.values()) == 8
    assert type(study.pruner).__name__ == {
        "none": "NopPruner", "median": "MedianPruner", "percentile": "PercentilePruner",
        "successive_halving": "SuccessiveHalvingPruner", "hyperband": "HyperbandPruner",
        "patient": "PatientPruner",
    }[name]


def test_warmup_protects_early_epochs_with_ask_tell() -> None:
    spec_pruner = PRUNERS["median"]
    pruner = spec_pruner(PrunerSpec(warmup_epochs=2, startup_trials=1), None)  # type: ignore[arg-type]
    study = optuna.create_study(direction="maximize", pruner=pruner)
    good = study.ask()
    for epoch in range(1, 6):
        good.report(1.0, epoch)
    study.tell(good, 1.0)
    bad = study.ask()
    decisions = []
    for epoch in range(1, 6):
        bad.report(0.0, epoch)
        decisions.append(bad.should_prune())
    assert decisions == [False, False, True, True, True]


def test_patient_pruner_asks_the_wrapped_one_only_once_the_objective_falls_back() -> None:
    spec_pruner = PrunerSpec(name="patient", wraps="median", patience=2, warmup_epochs=0,
                             startup_trials=1)
    pruner = PRUNERS["patient"](spec_pruner, None)  # type: ignore[arg-type]
    study = optuna.create_study(direction="maximize", pruner=pruner)
    good = study.ask()
    for epoch in range(1, 8):
        good.report(0.9, epoch)
    study.tell(good, 0.9)
    improving = study.ask()
    decisions = []
    for epoch, value in enumerate([0.1, 0.3, 0.3, 0.2, 0.2, 0.2], start=1):
        improving.report(value, epoch)
        decisions.append(improving.should_prune())
    assert decisions == [False, False, False, False, False, True]
