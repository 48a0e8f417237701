"""A KerasTuner HyperModel run whole: its own fit(hp, model, *args, **kwargs) called as KerasTuner
calls it, its hp calls logged, what it returns read as KerasTuner reads it, and the one-hot loss of
KerasTuner's applications given sparse labels (tiny data, a few epochs)."""

from __future__ import annotations

import importlib
import logging
import textwrap
from pathlib import Path
from typing import Any

import pytest

from autodl.errors import TrialFailed
from autodl.models import custom
from autodl.models.base import Built
from autodl.spec import space
from autodl.spec.sections import TrainingSpec
from autodl.trial.run import run_trial
from tests.helpers import make_dataset, write_module

pytestmark = pytest.mark.usefixtures("fresh_keras")

HYPERMODEL = """
    import keras
    import keras_tuner

    CALLS = []


    class Tuned(keras_tuner.HyperModel):
        def build(self, hp):
            model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(hp.Int("units", 4, 8), activation="relu"),
                                      keras.layers.Dense(3, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model

        def fit(self, hp, model, *args, **kwargs):
            CALLS.append((len(args), sorted(kwargs)))
            return model.fit(*args, batch_size=hp.Choice("batch_size", [4, 12]), shuffle=hp.Boolean("shuffle"),
                             epochs=hp.Int("epochs", 2, 3), **kwargs)


    class Reporting(Tuned):
        def fit(self, hp, model, *args, **kwargs):
            super().fit(hp, model, *args, **kwargs)
            return RETURNED


    class Dropping(Tuned):
        def fit(self, hp, model, x, y, validation_data, callbacks):
            model.fit(x, y, epochs=1, verbose=0)


    class Raising(Tuned):
        def fit(self, hp, model, *args, **kwargs):
            return model.fit(*args, nonsense=1, **kwargs)


    class Reading(Tuned):
        def fit(self, hp, model, x, y, **kwargs):
            hp.Boolean("scale")
            return model.fit(x / x.max(), y, **kwargs)


    class Plain(keras_tuner.HyperModel):
        def build(self, hp):
            return Tuned().build(hp)
"""


def first_values(name: str, dist: space.Distribution) -> Any:
    """A trial that answers every parameter with its distribution's first value (or low end)."""
    return dist.values[0] if isinstance(dist, space.Choice) else dist.low


def config(epochs: int = 5) -> dict[str, dict[str, Any]]:
    return {"model": {"family": "custom"}, "optimizer": {},
            "training": {**dict(TrainingSpec()), "epochs": epochs, "batch_size": 8}}


def hypermodels(tmp_path: Path) -> str:
    """HYPERMODEL written under a module name of this test's own (imported modules are cached)."""
    name = f"tuned_{tmp_path.name}"
    write_module(tmp_path, name, HYPERMODEL)
    return name


def trial_of(tmp_path: Path, target: str, returned: Any = None, **kwargs: Any) -> Any:
    name = hypermodels(tmp_path)
    user = custom.load_hypermodel(f"{name}:{target}", tmp_path)
    module = importlib.import_module(name)
    module.RETURNED = returned

    def build(cfg: dict[str, Any], data: Any, suggest: Any) -> Built:
        return custom.build(user, first_values, data.task)

    options = {"should_prune": lambda epoch, value: False, "listeners": [], **kwargs}
    return run_trial(config(), make_dataset("tabular", "multiclass"), "dev_accuracy", 0, build=build,
                     suggest=first_values, **options), module.CALLS


def test_the_hypermodels_fit_trains_with_its_own_choices_and_autodls_callbacks(tmp_path: Path) -> None:
    epochs: list[int] = []
    outcome, calls = trial_of(tmp_path, "Tuned", listeners=[lambda epoch, metrics: epochs.append(epoch)])
    assert calls == [(2, ["callbacks", "validation_data"])], "x, y positional; validation data and callbacks"
    assert outcome.state == "complete"
    assert outcome.params == {"model.units": 4, "model.batch_size": 4, "model.shuffle": False, "model.epochs": 2}
    assert epochs == [1, 2] and outcome.epochs == 2, "hp's epochs, not training.epochs, and tracked"
    assert outcome.value == outcome.metrics["dev_accuracy"]


def test_autodls_pruning_reaches_into_the_hypermodels_fit(tmp_path: Path) -> None:
    outcome, _ = trial_of(tmp_path, "Tuned", should_prune=lambda epoch, value: epoch == 1)
    assert (outcome.state, outcome.pruned_epoch, outcome.epochs) == ("pruned", 1, 1)


@pytest.mark.parametrize(("returned", "value"), [(0.25, 0.25), ({"val_accuracy": 0.5, "loss": 1.0}, 0.5),
                                                 ({"dev_accuracy": 0.75}, 0.75), (None, None)])
def test_what_fit_returns_is_the_value_as_kerastuner_reads_it(tmp_path: Path, returned: Any, value: Any) -> None:
    outcome, _ = trial_of(tmp_path, "Reporting", returned)
    assert outcome.state == "complete"
    assert outcome.value == (outcome.metrics["dev_accuracy"] if value is None else value)


@pytest.mark.parametrize(("returned", "message"), [
    ({"loss": 1.0}, "fit(hp, model, ...) returned metrics ['loss'] without dev_accuracy (or val_accuracy), "
                    "the search's objective"),
    ("good", "fit(hp, model, ...) returned str; KerasTuner's fit returns a History, a number (the objective's "
             "value) or a dict of metrics"),
])
def test_a_value_fit_returns_that_autodl_cannot_read_fails_the_trial(tmp_path: Path, returned: Any,
                                                                    message: str) -> None:
    with pytest.raises(TrialFailed) as caught:
        trial_of(tmp_path, "Reporting", returned)
    assert str(caught.value) == message


def test_a_fit_that_drops_the_callbacks_trains_untracked_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="autodl"):
        outcome, _ = trial_of(tmp_path, "Dropping")
    assert outcome.state == "complete" and outcome.epochs == 0
    assert "did not pass autodl's callbacks on to model.fit" in caplog.text


def test_an_error_in_the_hypermodels_fit_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(TrialFailed) as caught:
        trial_of(tmp_path, "Raising")
    assert str(caught.value).startswith("fit(hp, model, ...) raised TypeError: ")
    line = textwrap.dedent(HYPERMODEL).splitlines().index("        return model.fit(*args, nonsense=1, **kwargs)") + 1
    assert str(caught.value).endswith(f"(at {tmp_path / hypermodels(tmp_path)}.py, line {line})")


def test_only_an_overriding_fit_is_called(tmp_path: Path) -> None:
    name = hypermodels(tmp_path)
    write_module(tmp_path, "resnet_instance", """
        from keras_tuner.applications import HyperResNet

        hypermodel = HyperResNet(input_shape=(32, 32, 3), classes=3)

        def build(hp):
            return None
    """)
    assert custom.load_hypermodel(f"{name}:Tuned", tmp_path).fit is not None
    assert custom.load_hypermodel(f"{name}:Plain", tmp_path).fit is None
    assert custom.load_hypermodel("resnet_instance:hypermodel", tmp_path).fit is None
    assert custom.load_hypermodel("resnet_instance:build", tmp_path).fit is None


def test_defaults_include_what_fit_samples_unless_fit_needs_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = hypermodels(tmp_path)
    tuned = custom.defaults(custom.load_hypermodel(f"{name}:Tuned", tmp_path))
    assert tuned.values == {"units": 4, "batch_size": 4, "shuffle": False, "epochs": 2}
    with caplog.at_level(logging.INFO, logger="autodl"):
        reading = custom.defaults(custom.load_hypermodel(f"{name}:Reading", tmp_path))
    assert reading.values == {"units": 4}
    assert "the defaults of fit(hp, model, ...) are not known: without data it raised TypeError" in caplog.text


def test_a_one_hot_loss_is_given_sparse_labels_and_label_smoothing_is_refused() -> None:
    from autodl.runtime.backend import load_keras

    keras = load_keras()

    def model(loss: Any) -> Any:
        made = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
        made.compile("sgd", loss, metrics=["accuracy"])
        return made

    for loss in ("categorical_crossentropy", keras.losses.CategoricalCrossentropy(from_logits=True)):
        made = model(loss)
        custom.sparse_labels(made)
        assert made.get_compile_config()["loss"]["class_name"] == "SparseCategoricalCrossentropy"
        assert made.loss.get_config()["from_logits"] is (loss != "categorical_crossentropy")
        data = make_dataset("tabular", "multiclass")
        history = made.fit(data.train.x, data.train.y, epochs=1, verbose=0)
        assert set(history.history) == {"loss", "accuracy"}
    untouched = model("mse")
    custom.sparse_labels(untouched)
    assert untouched.loss == "mse"
    with pytest.raises(TrialFailed) as caught:
        custom.sparse_labels(model(keras.losses.CategoricalCrossentropy(label_smoothing=0.1)))
    assert str(caught.value) == (
        "the model is compiled with CategoricalCrossentropy(label_smoothing=0.1), which needs one-hot labels; "
        "autodl's labels are class indices: use SparseCategoricalCrossentropy"
    )


@pytest.mark.slow
def test_a_module_level_hyperresnet_instance_builds_and_trains_on_class_indices(tmp_path: Path) -> None:
    import numpy as np

    write_module(tmp_path, "resnet_for_digits", """
        from keras_tuner.applications import HyperResNet

        hypermodel = HyperResNet(input_shape=(32, 32, 3), classes=3)
    """)
    user = custom.load_hypermodel("resnet_for_digits:hypermodel", tmp_path)
    asked: dict[str, Any] = {}

    def suggest(name: str, dist: space.Distribution) -> Any:
        asked[name] = dist
        return {"model.version": "v2", "model.optimizer": "adam"}.get(name, first_values(name, dist))

    built = custom.build(user, suggest, "multiclass")
    assert built.params == {"model.version": "v2", "model.conv3_depth": 4, "model.conv4_depth": 6,
                            "model.pooling": "avg", "model.optimizer": "adam", "model.learning_rate": 0.1}
    assert asked["model.version"] == space.Choice(("v1", "v2", "next"))
    assert built.model.get_compile_config()["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    images = np.random.default_rng(0).uniform(0, 255, size=(4, 32, 32, 3)).astype("float32")
    loss, accuracy = built.model.train_on_batch(images, np.array([0, 1, 2, 1]))
    assert np.isfinite(loss) and 0.0 <= accuracy <= 1.0
