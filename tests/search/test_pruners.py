"""Pruners by name: the median pruner after its warm-up, every pruner built, the patient pruner;
why each one stopped a trial (ask/tell, no training)."""

from __future__ import annotations

import re

import optuna
import pytest

from autodl.search.loop import optimize
from autodl.search.pruners import PRUNERS, make_pruner, why_pruned
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


def pruned_with(spec, completed: list[list[float]], reports: list[float]) -> tuple[optuna.Study, int]:
    """A study with the spec's pruner: ``completed`` trials (one value per epoch), then one that
    reports ``reports`` until the pruner stops it; returns the study and the epoch it stopped at.
    The study's name is fixed because Hyperband assigns a trial's bracket from a hash of the study
    name and trial number: with a random name, one run in ten put the last trial alone in a bracket."""
    study = optuna.create_study(study_name="pruned-with", pruner=make_pruner(spec),
                                direction=spec.search.objective.resolved_direction)
    for values in completed:
        trial = study.ask()
        for epoch, value in enumerate(values, start=1):
            trial.report(value, epoch)
            if trial.should_prune():
                break
        study.tell(trial, values[-1])
    trial = study.ask()
    for epoch, value in enumerate(reports, start=1):
        trial.report(value, epoch)
        if trial.should_prune():
            return study, epoch
    raise AssertionError("the pruner never stopped the trial")


def last(study: optuna.Study) -> optuna.trial.FrozenTrial:
    return study.get_trials(deepcopy=False)[-1]


def test_a_median_pruned_trial_says_its_value_against_the_median(write_spec) -> None:
    spec = make_spec(write_spec, pruner={"name": "median", "warmup_epochs": 0, "startup_trials": 1})
    study, epoch = pruned_with(spec, [[0.7] * 3, [0.8] * 3, [0.9] * 3], [0.3, 0.5])
    assert epoch == 1
    assert why_pruned(spec, study, last(study), epoch) == (
        "dev_accuracy 0.3 at epoch 1; its best so far, 0.3, is below the median of the 3 complete "
        "trials at epoch 1, 0.8"
    )
    losses = make_spec(write_spec, pruner={"name": "median", "warmup_epochs": 1, "startup_trials": 1},
                       objective={"metric": "dev_loss"})
    study, epoch = pruned_with(losses, [[0.5, 0.4], [0.7, 0.6]], [0.9, 0.8])
    assert why_pruned(losses, study, last(study), epoch) == (
        "dev_loss 0.8 at epoch 2; its best so far, 0.8, is above the median of the 2 complete trials "
        "at epoch 2, 0.5"
    )


def test_a_percentile_pruned_trial_names_the_percentile_it_missed(write_spec) -> None:
    spec = make_spec(write_spec, pruner={"name": "percentile", "percentile": 25, "warmup_epochs": 0,
                                         "startup_trials": 1})
    study, epoch = pruned_with(spec, [[0.7], [0.8], [0.9]], [0.82])
    assert why_pruned(spec, study, last(study), epoch) == (
        "dev_accuracy 0.82 at epoch 1; its best so far, 0.82, is below the 75th percentile (the pruner "
        "keeps the best 25%) of the 3 complete trials at epoch 1, 0.85"
    )


def test_a_halved_trial_says_the_cut_of_its_rung(write_spec) -> None:
    spec = make_spec(write_spec, pruner={"name": "successive_halving", "warmup_epochs": 1})
    study, epoch = pruned_with(spec, [[0.9] * 6], [0.8, 0.8])
    assert epoch == 1
    assert why_pruned(spec, study, last(study), epoch) == (
        "dev_accuracy 0.8 at epoch 1; it is below the cut 0.9 that keeps the best 1/4 of the 2 trials at "
        "rung 0 (successive halving)"
    )


def test_a_hyperband_trial_says_the_cut_of_its_bracket(write_spec) -> None:
    spec = make_spec(write_spec, pruner={"name": "hyperband", "warmup_epochs": 1})
    values = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7]
    study, epoch = pruned_with(spec, [[v] * 6 for v in values[:-1]], [values[-1]] * 6)
    found = re.fullmatch(r"dev_accuracy 0\.7 at epoch (\d); it is below the cut ([\d.]+) that keeps the best "
                         r"1/3 of the (\d) trials at rung (\d) of bracket (\d) \(hyperband\)",
                         why_pruned(spec, study, last(study), epoch))
    assert found is not None, why_pruned(spec, study, last(study), epoch)
    assert int(found[1]) == epoch and float(found[2]) in values[:-1] and int(found[3]) >= 2


def test_a_patient_pruned_trial_says_it_stalled_and_what_the_wrapped_pruner_saw(write_spec) -> None:
    spec = make_spec(write_spec, pruner={"name": "patient", "wraps": "median", "patience": 2, "warmup_epochs": 0,
                                         "startup_trials": 1})
    study, epoch = pruned_with(spec, [[0.9] * 7], [0.1, 0.3, 0.3, 0.2, 0.2, 0.2])
    assert epoch == 6
    assert why_pruned(spec, study, last(study), epoch) == (
        "dev_accuracy 0.2 at epoch 6; its best of the last 3 epochs, 0.2, did not improve on its best "
        "before them, 0.3, and its best so far, 0.3, is below the median of the 1 complete trials at "
        "epoch 6, 0.9"
    )


def test_a_pruned_trial_of_the_search_records_why(write_spec, tmp_path) -> None:
    spec = make_spec(write_spec, trials=8, pruner={"name": "median", "warmup_epochs": 0, "startup_trials": 2})
    result = optimize(spec, new_study(spec, tmp_path), curve_objective(by_filters), [], lambda t, o: None)
    pruned = [t for t in result.study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned
    for trial in pruned:
        epoch = trial.user_attrs["pruned_epoch"]
        assert trial.user_attrs["prune_reason"].startswith(
            f"dev_accuracy {trial.intermediate_values[epoch]:.4g} at epoch {epoch}; its best so far, ")
        assert " is below the median of the " in trial.user_attrs["prune_reason"]
