"""KerasTuner's HyperParameters as autodl answers them: conditions (scopes and parent values), log
sampling with a multiplying step, linear float steps, and defaults (no training)."""

from __future__ import annotations

import optuna
import pytest

from autodl.models.hyperparameters import DefaultHyperParameters, TrialHyperParameters
from autodl.spec import space


def recording() -> tuple[TrialHyperParameters, dict[str, space.Distribution]]:
    """An hp whose trial answers each parameter with its distribution's first value, and the
    distributions it was asked for by name."""
    asked: dict[str, space.Distribution] = {}

    def suggest(name: str, dist: space.Distribution) -> object:
        asked[name] = dist
        return dist.values[0] if isinstance(dist, space.Choice) else dist.low

    return TrialHyperParameters(suggest), asked


def test_a_parameter_outside_its_condition_is_none_and_not_sampled() -> None:
    hp, asked = recording()
    kind = hp.Choice("kind", ["mlp", "cnn"])
    with hp.conditional_scope("kind", ["cnn"]):
        filters = hp.Int("filters", 8, 64)
        with hp.conditional_scope("filters", [8]):
            nested = hp.Int("nested", 1, 3)
    with hp.conditional_scope("kind", "mlp"):
        units = hp.Int("units", 16, 32)
    depth = hp.Int("depth", 1, 4, parent_name="kind", parent_values=["cnn"])
    width = hp.Fixed("width", 3, parent_name="kind", parent_values=["cnn"])
    assert (kind, filters, nested, units, depth, width) == ("mlp", None, None, 16, None, None)
    assert hp.values == {"kind": "mlp", "units": 16}
    assert set(asked) == {"model.kind", "model.units"}
    assert hp.get("filters") is None and "filters" in hp and not hp.is_active("filters")
    assert hp.is_active("units") and hp["units"] == 16
    assert hp.Int("filters", 8, 64) is None, "an inactive name stays inactive when asked again"


def test_a_parameter_inside_a_holding_condition_is_sampled() -> None:
    hp, asked = recording()
    hp.Choice("kind", ["cnn", "mlp"])
    with hp.conditional_scope("kind", ["cnn"]):
        assert hp.Int("filters", 8, 64) == 8
    assert hp.Boolean("pool", parent_name="kind", parent_values="cnn") is False
    assert hp.values == {"kind": "cnn", "filters": 8, "pool": False}
    assert set(asked) == {"model.kind", "model.filters", "model.pool"}


def test_log_sampling_with_a_step_multiplies_and_a_float_step_adds() -> None:
    hp, asked = recording()
    hp.Int("units", 16, 256, step=2, sampling="log")
    hp.Int("plain_log", 1, 100, sampling="log")
    hp.Float("rate", 1e-4, 1e-1, step=10, sampling="log")
    hp.Float("dropout", 0.0, 0.5, step=0.1)
    assert asked["model.units"] == space.Choice((16, 32, 64, 128, 256))
    assert asked["model.plain_log"] == space.IntRange(1, 100, 1, True)
    assert asked["model.rate"] == space.Choice((1e-4, 1e-3, 1e-2, 1e-1))
    assert asked["model.dropout"] == space.FloatRange(0.0, 0.5, "linear", 0.1)


def test_an_optuna_trial_samples_a_float_step_on_its_grid() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen = set()
    for _ in range(20):
        trial = study.ask()
        hp = TrialHyperParameters(lambda name, dist, trial=trial: space.suggest(trial, name, dist))
        seen.add(round(hp.Float("dropout", 0.0, 0.5, step=0.1), 10))
        seen.add(hp.Int("units", 16, 128, step=2, sampling="log"))
        study.tell(trial, 0.0)
    assert seen <= {0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 16, 32, 64, 128} and len(seen) >= 8


def test_defaults_follow_kerastuner_and_are_recorded_as_optuna_stores_them() -> None:
    hp = DefaultHyperParameters()
    assert hp.Int("units", 32, 128, step=32) == 32
    assert hp.Int("layers", 1, 3, default=2) == 2
    assert hp.Float("lr", 1e-4, 1e-2, sampling="log", default=1e-3) == 1e-3
    assert hp.Float("beta", 0.9, 0.999, sampling="reverse_log") == 0.9
    assert hp.Choice("act", ["relu", "tanh"]) == "relu"
    assert hp.Choice("pair", [[1, 2], [3, 4]], default=[3, 4]) == [3, 4]
    assert hp.Boolean("bn") is False
    with hp.conditional_scope("bn", [True]):
        assert hp.Float("momentum", 0.9, 0.99) is None
    assert hp.values == {"units": 32, "layers": 2, "lr": 1e-3, "beta": 0.9, "act": "relu",
                         "pair": [3, 4], "bn": False}
    assert hp.recorded() == {"model.units": 32, "model.layers": 2, "model.lr": 1e-3,
                             "1-model.beta": pytest.approx(0.1), "model.act": "relu", "model.pair": 1,
                             "model.bn": False}
