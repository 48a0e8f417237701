"""Distributions: parsing, errors, the sampling scales (statistical, fixed seeds), grid points,
and the stored form of each distribution."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest

from autodl.spec import space
from autodl.spec.space import Choice, FloatRange, IntRange, ValueKind

FLOAT = ValueKind(float)


INT = ValueKind(int, minimum=1)


def test_fixed_values_pass_through_and_ints_widen_for_floats() -> None:
    assert space.parse(3, INT) == 3
    assert space.parse(1, FLOAT) == 1.0 and isinstance(space.parse(1, FLOAT), float)
    assert space.parse("relu", ValueKind(str, options=("relu", "tanh"))) == "relu"


def test_distributions_parse() -> None:
    assert space.parse({"int": [1, 4]}, INT) == IntRange(1, 4)
    assert space.parse({"int": [2, 64], "log": True}, INT) == IntRange(2, 64, 1, True)
    assert space.parse({"float": [1e-4, 1e-1], "scale": "log"}, FLOAT) == FloatRange(1e-4, 1e-1, "log")
    assert space.parse({"choice": [16, 32]}, INT) == Choice((16, 32))


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [
        ({"int": [5, 1]}, INT, "low must be <= high, but got low=5, high=1"),
        ({"float": [0.1, 0.2], "scale": "logg"}, FLOAT,
         "scale must be one of linear, log, inv_log, but got scale='logg'"),
        ({"float": [0.0, 0.1], "scale": "log"}, FLOAT, "scale=log needs low > 0, but got low=0.0"),
        ({"float": [0.9, 1.0], "scale": "inv_log"}, FLOAT,
         "scale=inv_log needs 0 <= low and high < 1, but got [0.9, 1.0]"),
        ({"int": [1, 4], "setp": 2}, INT,
         "unknown key 'setp' in an int distribution; did you mean 'step'? (allowed: int, step, log, when)"),
        ({"choice": []}, INT, "choice needs a non-empty list of values"),
        ({"uniform": [0, 1]}, FLOAT, "expected a fixed value or one of"),
        ({"float": [1, 2]}, INT, "a float distribution does not fit here: expected an integer >= 1"),
        ("relu", INT, "expected an integer >= 1 or a distribution"),
        (0, INT, "expected an integer >= 1 or a distribution"),
        ({"float": [0.1]}, FLOAT, "float needs a list [low, high]"),
        ({"float": [0.0, 1.0], "scale": "log", "step": 0.1}, FLOAT, "scale=log needs low > 0"),
        ({"float": [0.1, 1.0], "scale": "log", "step": 0.1}, FLOAT,
         "step works only with scale=linear, but got scale=log"),
    ],
)
def test_bad_distributions_say_what_is_wrong(raw: object, kind: ValueKind, message: str) -> None:
    with pytest.raises(ValueError) as info:
        space.parse(raw, kind)
    assert message in str(info.value)


def _samples(dist: space.Distribution, n: int, seed: int = 0) -> np.ndarray:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    values = []
    for _ in range(n):
        trial = study.ask()
        values.append(space.suggest(trial, "x", dist))
        study.tell(trial, 0.0)
    return np.array(values, dtype=object if isinstance(dist, Choice) else float)


@pytest.mark.parametrize("raw", [
    math.nan, math.inf, -math.inf, {"float": [math.nan, 1.0]}, {"float": [0.0, math.inf]},
    {"float": [0.1, 0.2], "step": math.nan}, {"float": [0.1, 0.2], "step": math.inf},
    {"choice": [0.1, math.nan]},
])
def test_numbers_that_are_not_finite_are_refused(raw: object) -> None:
    """NaN passes every ``<`` check, so it is refused on its own (it would train with NaN)."""
    with pytest.raises(ValueError, match=r"^(expected a number or a distribution|step must be a positive number)"):
        space.parse(raw, FLOAT)


def test_log_scale_gives_each_decade_an_equal_share() -> None:
    values = _samples(FloatRange(1e-4, 1e-1, "log"), 3000)
    decades = np.floor(np.log10(values)).astype(int)
    shares = [np.mean(decades == d) for d in (-4, -3, -2)]
    assert all(abs(s - 1 / 3) < 0.03 for s in shares), shares
    assert values.min() >= 1e-4 and values.max() <= 1e-1


def test_inv_log_puts_half_the_samples_above_0_99() -> None:
    values = _samples(FloatRange(0.9, 0.999, "inv_log"), 3000)
    assert abs(np.mean(values > 0.99) - 0.5) < 0.03
    assert values.min() >= 0.9 - 1e-12 and values.max() <= 0.999 + 1e-12


def test_linear_scale_is_uniform() -> None:
    values = _samples(FloatRange(0.0, 0.5), 3000)
    assert abs(np.mean(values < 0.25) - 0.5) < 0.03


def test_inv_log_is_stored_as_one_minus_value() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trial = study.ask()
    value = space.suggest(trial, "optimizer.beta_1", FloatRange(0.9, 0.999, "inv_log"))
    assert math.isclose(trial.params["1-optimizer.beta_1"], 1 - value)


def test_choice_of_lists_samples_whole_values() -> None:
    values = _samples(Choice(([1, 2], [3])), 50)
    assert {tuple(v) for v in values} == {(1, 2), (3,)}


def test_int_step_and_bounds() -> None:
    values = _samples(IntRange(16, 64, step=16), 200)
    assert set(values.tolist()) == {16, 32, 48, 64}


def test_describe_reads_like_the_spec() -> None:
    assert space.describe(FloatRange(1e-4, 1e-1, "log")) == "float [0.0001, 0.1] log"
    assert space.describe(IntRange(1, 3)) == "int [1, 3]"
    assert space.describe(Choice(("lstm", "gru"))) == "choice [lstm, gru]"
    assert space.describe(True) == "true"


def test_grid_values_follow_each_scale() -> None:
    assert space.grid_values("lr", space.FloatRange(1e-4, 1e-1, "log"), 4) == (
        "lr", [1e-4, 1e-3, 1e-2, 1e-1])
    name, values = space.grid_values("beta", space.FloatRange(0.9, 0.999, "inv_log"), 3)
    assert name == "1-beta" and [round(1 - v, 6) for v in values] == [0.999, 0.99, 0.9]
    assert space.grid_values("units", space.IntRange(8, 128, 8), 3) == ("units", [8, 72, 128])
    assert space.grid_values("blocks", space.IntRange(1, 3), 5) == ("blocks", [1, 2, 3])
    assert space.grid_values("drop", space.FloatRange(0.0, 0.5, "linear", 0.25), 3) == (
        "drop", [0.0, 0.25, 0.5])
    assert space.grid_values("act", space.Choice(("relu", "tanh")), 3) == ("act", ["relu", "tanh"])


def test_distributions_survive_storage() -> None:
    for dist in (IntRange(1, 9, 2), FloatRange(1e-4, 1e-1, "log"), Choice(("a", 2, None)),
                 FloatRange(0.8, 0.99, "inv_log", when=(("optimizer.name", ("sgd",)),))):
        assert space.from_raw(space.as_raw(dist)) == dist


@pytest.mark.parametrize(("value", "field_default", "expected"), [
    (space.Choice(("b", "a")), "a", "a"),
    (space.Choice(("b", "a")), "c", "b"),
    (space.IntRange(1, 9), 0, 5),
    (space.IntRange(16, 256, 16), None, 144),
    (space.IntRange(1, 100, 1, True), None, 10),
    (space.FloatRange(1e-4, 1e-2, "log"), 1.0, 0.001),
    (space.FloatRange(0.9, 0.999, "inv_log"), 0.5, 0.99),
    (space.FloatRange(0.0, 0.5, "linear", 0.2), None, 0.2),
    (space.FloatRange(0.0, 0.5), 0.1, 0.1),
    (7, 3, 7),
])
def test_a_parameters_default_is_the_fields_own_else_the_middle_on_its_scale(
    value: object, field_default: object, expected: object
) -> None:
    from autodl.spec.params import Param, default_of

    assert default_of(Param("x.y", value, (), field_default)) == pytest.approx(expected)
