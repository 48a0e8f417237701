"""Run descriptions: what a search found and why each trial ended, as the MLflow UI shows them."""

from __future__ import annotations

from pathlib import Path

from autodl.outcome import TrialOutcome
from autodl.results.diagnosis import Reference, diagnose
from autodl.results.uncertainty import ERROR_RATE, from_rate
from autodl.search.loop import SearchEnd
from autodl.tracking.descriptions import search_description, trial_description, trial_run_name


def record(baselines: bool) -> dict:
    """A best trial's record as the end of a search writes it, with a variance diagnosis."""
    errors = {name: from_rate(name, error, 400) for name, error in
              {"train": 0.01, "train_dev": 0.12, "dev": 0.13, "test": 0.14}.items()}
    references = (Reference("majority", "always the most frequent class", {"dev": from_rate("dev", 0.9, 400)}),)
    diagnosis = diagnose(ERROR_RATE, errors, human=0.0, origin="random",
                         baselines=references if baselines else ())
    return {"trial": 7, "objective": {"metric": "dev_accuracy", "direction": "maximize", "value": 0.87},
            "metrics": {"dev_accuracy": 0.87, "test_accuracy": 0.86}, "hyperparameters": {},
            "diagnosis": diagnosis.to_record()}


def test_the_search_description_says_what_it_found_and_where_it_is(tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    end = SearchEnd("FINISHED", {"complete": 5, "pruned": 3, "failed": 1, "infeasible": 1},
                    best=record(baselines=True), verdict="variance", folder=tmp_path, plots=tmp_path / "plots")
    text = search_description("digits", end, "trial-007", ["models:/m-123"])
    assert text.startswith(
        "**autodl search `digits`**: finished.\n\n**Best trial:** #7 (run `trial-007`), dev_accuracy = 0.87 "
        "(dev error 0.13 ± 0.034, 2 standard errors, on 400 examples); measured once on test: "
        "test_accuracy = 0.86.\n")
    assert ("**Baselines** (dev error, ± 2 standard errors):\n\n- the best network: 0.13 ± 0.034\n"
            "- majority (always the most frequent class): 0.9 ± 0.03\n") in text
    assert "**Verdict:** variance.\n\n**Next steps:**\n\n- " in text
    assert "**Trials:** 5 complete (1 infeasible), 3 pruned, 1 failed." in text
    assert (f"**Where:** best model `{tmp_path}/model.keras` with `best.json` and `diagnosis.md` (artifacts: "
            f"`best_model/`); plots `{tmp_path}/plots/` (artifacts: `plots/`); logged model `models:/m-123` "
            "(loads with `mlflow.pyfunc.load_model`).") in text
    assert text.rstrip().endswith("press *Compare* and open *Parallel Coordinates Plot* (hyperparameters against "
                                  "the objective).")


def test_without_baselines_or_a_best_trial_the_description_says_so() -> None:
    plain = search_description("s", SearchEnd("FINISHED", {"complete": 1}, best=record(baselines=False)), None, [])
    assert "**Baselines**" not in plain and "**Best trial:** #7, dev_accuracy = 0.87" in plain
    none = search_description("s", SearchEnd("KILLED", {"complete": 0, "pruned": 0, "failed": 2}), None, [])
    assert none.startswith("**autodl search `s`**: interrupted (Ctrl-C); running the same command resumes it.\n\n"
                           "No trial completed within the constraints; each trial run's description says why")
    assert "**Trials:** 0 complete, 0 pruned, 2 failed." in none and "**Where:**" not in none


def test_each_trial_description_says_its_state_and_why() -> None:
    pruned = TrialOutcome("pruned", value=0.4, epochs=3, pruned_epoch=3,
                          reason="dev_accuracy 0.4 at epoch 3; its best so far, 0.41, is below the median of "
                                 "the 5 complete trials at epoch 3, 0.82")
    assert trial_description(4, pruned, "dev_accuracy", "digits") == (
        "**pruned**: dev_accuracy 0.4 at epoch 3; its best so far, 0.41, is below the median of the 5 "
        "complete trials at epoch 3, 0.82. The pruner stopped it to spend the budget on more promising "
        "trials.\n\nOptuna trial #4 of study `digits` (`autodl dashboard SPEC` shows the study).")
    complete = trial_description(0, TrialOutcome("complete", value=0.9, epochs=1), "dev_f1", "d")
    assert complete.startswith("**complete** after 1 epoch: dev_f1 = 0.9.")
    failed = trial_description(1, TrialOutcome("failed", reason="ValueError: " + "x" * 3000), "dev_f1", "d")
    assert failed.startswith("**failed**: ValueError: xxx") and len(failed) < 2300


def test_trial_run_names_sort_by_number() -> None:
    names = [trial_run_name(n, 25) for n in (0, 7, 10, 24)]
    assert names == ["trial-000", "trial-007", "trial-010", "trial-024"] == sorted(names)
    assert trial_run_name(42, 20000) == "trial-00042"
