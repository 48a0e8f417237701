"""Top-k ensembles: choosing the members (ask/tell, no training), combining tiny models (the
average checked numerically, saved and loaded), inputs that differ, outputs that are not
probabilities, text members split for TFLite and ONNX, the paired comparison, best.json, the
model card and the spec."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from typer.testing import CliRunner

from autodl.cli import app
from autodl.data import load_dataset
from autodl.data.dataset import Dataset, Split
from autodl.errors import AutodlError, SpecError
from autodl.export import bundle, ensemble, formats, modelcard
from autodl.export.retrain import Refit, load_best
from autodl.runtime.backend import load_keras
from autodl.spec.document import load_spec
from autodl.trial import measure
from tests.export.test_modelcard import manifest as card_manifest
from tests.helpers import WORDS, minimal_spec, search_once

keras = load_keras()


def study_of(direction: str, outcomes: list[tuple[str, float | None, float]]) -> optuna.Study:
    """A study told ``(state, value, latency excess)`` per trial, in order: ``complete`` (with
    a constraint value; above 0 is infeasible), ``pruned`` or ``failed``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction, study_name="s")
    for state, value, excess in outcomes:
        trial = study.ask()
        if state == "complete":
            trial.set_constraint("latency_ms", excess)
            study.tell(trial, value)
        elif state == "pruned":
            trial.report(value or 0.0, 1)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return study


MIXED = [("complete", 0.80, 0.0), ("pruned", 0.99, 0.0), ("complete", 0.95, 2.0),
         ("complete", 0.90, -1.0), ("failed", None, 0.0), ("complete", 0.85, 0.0),
         ("complete", 0.90, 0.0)]


def test_members_are_the_best_feasible_complete_trials_best_first_in_the_study_direction() -> None:
    found = ensemble.choose(study_of("maximize", MIXED), 3)
    # #2 (0.95) breaks a constraint; #1 is pruned and #4 failed; #3 and #6 tie at 0.90
    assert [t.number for t in found] == [3, 6, 5]
    assert [t.number for t in ensemble.ranked(study_of("maximize", MIXED))] == [3, 6, 5, 0]
    lowest = ensemble.choose(study_of("minimize", MIXED), 2)
    assert [t.number for t in lowest] == [0, 5]


def test_the_first_member_is_the_study_best_trial() -> None:
    study = study_of("maximize", MIXED)
    assert ensemble.choose(study, 1)[0].number == study.best_trial.number == 3


def test_fewer_feasible_complete_trials_than_asked_is_an_error_naming_them() -> None:
    with pytest.raises(AutodlError) as caught:
        ensemble.choose(study_of("maximize", MIXED), 5)
    assert str(caught.value) == (
        "export.ensemble asks for the 5 best trials, but study 's' has 4 feasible complete trials "
        "(#3, #6, #5, #0); lower export.ensemble (--ensemble) to at most 4, or search longer. "
        "Received: export.ensemble=5"
    )
    with pytest.raises(AutodlError, match=r"has 0 feasible complete trials \(none\)"):
        ensemble.choose(study_of("maximize", [("pruned", 0.5, 0.0), ("complete", 0.9, 1.0)]), 2)


def tiny_classifier(seed: int, features: int = 4, classes: int = 3, logits: bool = False) -> Any:
    """A compiled softmax (or linear) classifier with random weights."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((features,), name="inputs")
    hidden = keras.layers.Dense(5, activation="relu", kernel_regularizer=keras.regularizers.L2(0.01))(inputs)
    output = keras.layers.Dense(classes, activation=None if logits else "softmax", name="output")(hidden)
    model = keras.Model(inputs, output)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_combine_averages_the_members_outputs_and_saves_and_loads_as_keras(tmp_path: Path) -> None:
    first, second = tiny_classifier(0), tiny_classifier(1)
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    a, b = first.predict(x, verbose=0), second.predict(x, verbose=0)
    assert np.max(np.abs(a - b)) > 0.01  # different members, so the average is a real check
    combined = ensemble.combine([first, second], [3, 7])
    assert [layer.name for layer in combined.layers] == ["inputs", "trial_3", "trial_7", "output"]
    expected = (a + b) / 2
    np.testing.assert_allclose(combined.predict(x, verbose=0), expected, atol=1e-6)
    assert combined.loss == "sparse_categorical_crossentropy"
    assert measure.penalty(combined) == pytest.approx(measure.penalty(first) + measure.penalty(second))
    combined.save(tmp_path / "ensemble.keras")
    loaded = keras.saving.load_model(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)
    assert ensemble.prepare(combined, ["keras", "tflite"]).numeric is combined


def test_members_with_different_inputs_are_refused_naming_the_trials_and_shapes() -> None:
    with pytest.raises(AutodlError) as caught:
        ensemble.combine([tiny_classifier(0, features=4), tiny_classifier(1, features=6)], [2, 5])
    message = str(caught.value)
    assert "trial #2 takes (4,) float32 -> (3,) and trial #5 takes (6,) float32 -> (3,)" in message
    assert "Export the best model alone (export.ensemble: 1)" in message
    with pytest.raises(AutodlError, match=r"trial #0 takes \(24, 3\) sequence data and trial #4 takes "
                                          r"\(48, 3\) sequence data"):
        ensemble.check_inputs([(0, "(24, 3) sequence data"), (4, "(48, 3) sequence data")])


def test_outputs_that_are_not_probabilities_are_refused() -> None:
    x = np.random.default_rng(1).normal(size=(32, 4)).astype("float32") * 10
    logits = tiny_classifier(0, logits=True).predict(x, verbose=0)
    with pytest.raises(AutodlError, match=r"Trial #4's model outputs values in \[.*\] on dev, not "
                                          r"probabilities summing to 1; an ensemble averages probabilities"):
        ensemble.check_probabilities(4, "multiclass", logits)
    ensemble.check_probabilities(4, "multiclass", tiny_classifier(0).predict(x, verbose=0))
    ensemble.check_probabilities(4, "regression", logits)
    with pytest.raises(AutodlError, match="not probabilities;"):
        ensemble.check_probabilities(1, "binary", np.array([[0.2], [1.5]]))


def text_classifier(seed: int, max_tokens: int = 20) -> Any:
    """Raw strings -> TextVectorization (adapted on the same words) -> a sigmoid."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(), dtype="string", name="text")
    vectorize = keras.layers.TextVectorization(max_tokens=max_tokens, output_sequence_length=6)
    vectorize.adapt(np.array([" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))]))
    x = keras.layers.Embedding(max_tokens, 4)(vectorize(inputs))
    output = keras.layers.Dense(1, activation="sigmoid", name="output")(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(inputs, output)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def test_text_members_sharing_one_vectorization_export_token_id_formats(tmp_path: Path) -> None:
    combined = ensemble.combine([text_classifier(0), text_classifier(1)], [1, 2])
    texts = np.array(["good movie", "awful plot and bad acting", "a fine story", "great"], dtype=object)
    prepared = ensemble.prepare(combined, ["keras", "onnx", "tflite"])
    assert prepared.vectorizer is not None and prepared.vectorizer["config"]["output_sequence_length"] == 6
    encode = formats.textprep.TextEncoder(prepared.vectorizer["config"], prepared.vectorizer["vocabulary"]).encode
    expected = combined.predict(texts, verbose=0)
    np.testing.assert_allclose(prepared.numeric.predict(encode(texts), verbose=0), expected, atol=1e-6)
    checked = bundle.save_formats(prepared, ["keras", "onnx", "tflite"], tmp_path, texts)
    assert all(info["max_abs_diff"] < 1e-5 for info in checked.values()), checked


def test_text_members_with_different_vocabularies_export_raw_text_formats_only() -> None:
    combined = ensemble.combine([text_classifier(0, max_tokens=20), text_classifier(1, max_tokens=8)], [1, 2])
    assert ensemble.prepare(combined, ["keras", "saved_model"]).numeric is combined
    with pytest.raises(formats.ExportError) as caught:
        ensemble.prepare(combined, ["keras", "onnx"])
    message = str(caught.value)
    assert "members #1 (12 tokens, sequence length 6), #2 (8 tokens, sequence length 6) differ" in message
    assert "Export keras or saved_model only (--formats keras,saved_model)" in message


def test_paired_difference_and_its_standard_error() -> None:
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    eye = np.eye(3)
    single = eye[[0, 1, 2, 0, 1, 2, 1, 0]]  # two wrong
    combined = eye[[0, 1, 2, 0, 1, 2, 0, 0]]  # one wrong
    found = ensemble.paired("multiclass", "error = 1 - accuracy", y, single, combined)
    difference = np.array([0, 0, 0, 0, 0, 0, -1, 0])
    assert found == {"error": "error rate", "best_single": 0.25, "ensemble": 0.125, "difference": -0.125,
                     "se": pytest.approx(np.std(difference, ddof=1) / math.sqrt(8)), "n": 8}
    values = ensemble.paired("regression", "mae", np.zeros(2), np.array([[1.0], [3.0]]), np.array([[1.0], [1.0]]))
    assert (values["error"], values["best_single"], values["ensemble"], values["difference"]) == (
        "absolute error", 2.0, 1.0, -1.0)


def summary() -> dict[str, Any]:
    """An ``ensemble`` entry as ``ensemble.build`` writes it."""
    scores = {"best_single": {"dev_accuracy": 0.9, "dev_loss": 0.3, "test_accuracy": 0.88, "test_loss": 0.35},
              "ensemble": {"dev_accuracy": 0.92, "dev_loss": 0.25, "test_accuracy": 0.9, "test_loss": 0.3}}
    return {
        "size": 3, "combined": "mean of the members' predicted probabilities", "objective": "dev_accuracy",
        "members": [{"trial": 7, "search_value": 0.9, "measured_value": 0.9, "source": "saved", "epochs": 5,
                     "seed": 11},
                    {"trial": 2, "search_value": 0.89, "measured_value": 0.885, "source": "rebuilt", "epochs": 5,
                     "seed": 3},
                    {"trial": 4, "search_value": 0.87, "measured_value": 0.87, "source": "rebuilt", "epochs": 4,
                     "seed": 5}],
        "examples": {"dev": 300, "test": 300}, "metrics": scores,
        "paired": {"dev": {"error": "error rate", "best_single": 0.1, "ensemble": 0.08, "difference": -0.02,
                           "se": 0.012, "n": 300},
                   "test": {"error": "error rate", "best_single": 0.12, "ensemble": 0.1, "difference": -0.02,
                            "se": 0.008, "n": 300}},
    }


def test_model_card_shows_the_members_and_the_scores_side_by_side() -> None:
    found = {**card_manifest(retrained=False), "ensemble": summary()}
    card = modelcard.render(found, {fmt.name: fmt.how_to_load for fmt in formats.FORMATS})
    assert card.splitlines()[2].startswith("An ensemble of 3 rnn models for binary on text data")
    assert "Exported model: the average of 3 models, each trained on train as its trial was" in card
    assert "\n## Ensemble\n" in card
    assert "| #2 | 0.89 | 0.885 | trained again as the search did |" in card
    assert "| split | examples | metric | best single model (#7) | ensemble of 3 |" in card
    assert "| dev | 300 | accuracy | 0.9 | 0.92 |" in card and "| test | 300 | loss | 0.35 | 0.3 |" in card
    assert ("On dev (300 examples) the ensemble's error rate is 0.08 and the best single model's 0.1: a "
            "difference of -0.02 with a paired standard error of 0.012, within two standard errors: not a "
            "clear difference on this many examples.") in card
    assert "On test (300 examples)" in card and "more than two standard errors: a real difference" in card
    assert "(measured at export)" in card
    plain = modelcard.render(card_manifest(retrained=False), {fmt.name: fmt.how_to_load for fmt in formats.FORMATS})
    assert "## Ensemble" not in plain and "(measured during training)" in plain


def test_best_json_gets_the_ensemble_entry_and_loses_it_with_a_single_export(tmp_path: Path) -> None:
    (tmp_path / "best.json").write_text(json.dumps({"trial": 7, "metrics": {"dev_accuracy": 0.9}}))
    bundle.record_ensemble(tmp_path, {"trial": 7, "ensemble": summary()})
    record = json.loads((tmp_path / "best.json").read_text())
    assert record["metrics"] == {"dev_accuracy": 0.9}
    assert record["ensemble"]["metrics"]["ensemble"]["dev_accuracy"] == 0.92
    assert record["ensemble"]["examples"] == {"dev": 300, "test": 300}
    bundle.record_ensemble(tmp_path, {"trial": 8, "ensemble": {}})  # another trial's: left alone
    assert json.loads((tmp_path / "best.json").read_text()) == record
    bundle.record_ensemble(tmp_path, {"trial": 7})
    assert json.loads((tmp_path / "best.json").read_text()) == {"trial": 7, "metrics": {"dev_accuracy": 0.9}}


@pytest.mark.parametrize("value", [0, -2, 2.5, "3", True])
def test_spec_ensemble_must_be_a_whole_number_of_at_least_1(value: Any, write_spec: Any) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(minimal_spec(export={"ensemble": value})))
    line = str(caught.value).splitlines()[1]
    assert line.startswith("  export.ensemble: ") and line.endswith(f"Received: export.ensemble={value!r}")


def test_spec_ensemble_sets_the_export_options(write_spec: Any) -> None:
    assert bundle.options(load_spec(write_spec(minimal_spec()))).ensemble == 1
    assert bundle.options(load_spec(write_spec(minimal_spec(export={"ensemble": None})))).ensemble == 1
    assert bundle.options(load_spec(write_spec(minimal_spec(export={"ensemble": 3})))).ensemble == 3


def test_cli_ensemble_larger_than_the_study_is_refused_before_training(tmp_path: Path, project: Path) -> None:
    searched = search_once(tmp_path / "fake")
    complete = len(ensemble.ranked(searched.study))
    runner = CliRunner()
    result = runner.invoke(app, ["export", str(searched.path), "--storage", searched.storage,
                                 "--ensemble", "20", "--formats", "keras"])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert f"export.ensemble asks for the 20 best trials, but study 'fake' has {complete} feasible" in flat
    assert "Received: export.ensemble=20" in flat
    zero = runner.invoke(app, ["export", str(searched.path), "--ensemble", "0"])
    assert zero.exit_code == 2 and "Invalid value for '--ensemble'" in zero.output


def test_a_search_spec_with_export_ensemble_exports_an_ensemble_after_the_search(
    write_spec: Any, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(write_spec(minimal_spec(export={"dir": str(project / "best"), "formats": ["keras"],
                                                     "ensemble": 2}, tracking={"enabled": False})))
    x = np.random.default_rng(2).normal(size=(12, 4)).astype("float32")
    split = Split(x, np.arange(12) % 3)
    data = Dataset("table", "tabular", "multiclass", {s: split for s in ("train", "train_dev", "dev", "test")},
                   ("a", "b", "c"))
    record = {"trial": 7, "config": {"model": {"family": "mlp"}}, "hyperparameters": {},
              "objective": {"metric": "dev_accuracy", "direction": "maximize", "value": 0.9},
              "metrics": {"dev_accuracy": 0.9}}
    (project / "best").mkdir()
    (project / "best" / "best.json").write_text(json.dumps(record))
    asked: list[tuple[int, int]] = []

    def build(spec: Any, data: Any, best: Any, size: int, data_for: Any, retrain: bool, include_dev: bool) -> Any:
        asked.append((best.record["trial"], size))
        assert data_for(record["config"]) is data
        model = ensemble.combine([tiny_classifier(0), tiny_classifier(1)], [7, 2])
        facts = {"retrained": False, "trained_on": ["train"], "epochs": 3, "seed": 1,
                 "metrics": {"dev_accuracy": 0.92, "params": 100.0, "model_size_mb": 0.1, "latency_ms": 1.0}}
        return ensemble.Ensemble(model, [], facts, summary())

    monkeypatch.setattr(ensemble, "build", build)
    out = bundle.after_search(spec, record, data, None)
    assert out == project / "best" / "export" and asked == [(7, 2)]
    assert json.loads((out / "export.json").read_text())["ensemble"] == summary()
    assert json.loads((project / "best" / "best.json").read_text())["ensemble"] == summary()
    assert "\n## Ensemble\n" in (out / "MODEL_CARD.md").read_text()


def digit_model(seed: int) -> Any:
    """A compiled softmax over the 8x8 digits with random weights (no training)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1), name="inputs")
    output = keras.layers.Dense(10, activation="softmax", name="output")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, output)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.optimizer.build(model.trainable_variables)  # saved as a trained model's would be
    return model


def test_build_uses_the_saved_best_model_and_trains_the_others_again_or_refits_them_all(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    searched = search_once(tmp_path / "fake")
    folder = tmp_path / "best"
    spec = searched.spec.with_overrides(**{"search.storage": searched.storage, "export.dir": str(folder)})
    data = load_dataset(spec.data, spec.base_dir, spec.seed)
    best = load_best(spec, lambda config: data, folder)
    top = [t.number for t in ensemble.ranked(searched.study)[:3]]
    calls: list[tuple[str, int]] = []

    def replay(spec: Any, data: Any, record: Any) -> Any:
        calls.append(("replay", record["trial"]))
        return digit_model(record["trial"])

    def refit(spec: Any, data: Any, record: Any, include_dev: bool) -> Refit:
        calls.append(("refit", record["trial"]))
        return Refit(digit_model(record["trial"]), ["train", "train_dev"], 3, {"train_time_s": 2.0})

    monkeypatch.setattr(ensemble, "replay", replay)
    monkeypatch.setattr(ensemble, "refit", refit)
    folder.mkdir()
    digit_model(top[0]).save(folder / "model.keras")
    (folder / "best.json").write_text(json.dumps({"trial": top[0]}))
    built = ensemble.build(spec, data, best, 3, lambda config: data)
    assert calls == [("replay", top[1]), ("replay", top[2])]
    assert [(m.trial, m.source) for m in built.members] == [(top[0], "saved"), (top[1], "rebuilt"), (top[2], "rebuilt")]
    entry = built.summary
    assert [m["trial"] for m in entry["members"]] == top and entry["size"] == 3
    assert [m["search_value"] for m in entry["members"]] == [searched.study.trials[t].value for t in top]
    assert entry["examples"] == {"dev": len(data.splits["dev"]), "test": len(data.splits["test"])}
    x = data.splits["dev"].x
    members = np.mean([m.model.predict(x, verbose=0) for m in built.members], axis=0)
    accuracy = float(np.mean(members.argmax(axis=1) == data.splits["dev"].y))
    assert entry["metrics"]["ensemble"]["dev_accuracy"] == pytest.approx(accuracy)
    assert built.facts["metrics"]["dev_accuracy"] == pytest.approx(accuracy)
    assert built.facts["retrained"] is False and built.facts["trained_on"] == ["train"]

    calls.clear()
    refitted = ensemble.build(spec, data, best, 2, lambda config: data, retrain=True)
    assert calls == [("refit", top[0]), ("refit", top[1])]
    assert [m.source for m in refitted.members] == ["retrained", "retrained"]
    assert refitted.facts["retrained"] is True and refitted.facts["trained_on"] == ["train", "train_dev"]
    assert refitted.facts["metrics"]["train_time_s"] == 4.0
