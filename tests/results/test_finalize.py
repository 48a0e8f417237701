"""The end of a search, without training: which baselines run, which one the network is compared
with, errors from a study's stored metrics, and the floor and human level taken from the spec."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autodl.errors import AutodlError
from autodl.results.baselines import Baselines, BaselineScore
from autodl.results.finalize import baselines_for, diagnose_errors, errors_from_metrics, reference_of
from autodl.results.uncertainty import SplitError, binomial_se, from_rate
from autodl.spec.document import Spec
from tests.helpers import dataset_from, minimal_spec


def spec_with(**diagnostics: object) -> Spec:
    return Spec.model_validate(minimal_spec(diagnostics=diagnostics))


def separable(n: int = 60) -> object:
    x = np.linspace(-1, 1, n, dtype="float32").reshape(-1, 1)
    return dataset_from("tabular", "binary", x, (x[:, 0] > 0).astype("int64"), dev=20)


def score(name: str, kind: str, dev: float) -> BaselineScore:
    return BaselineScore(name, kind, name, {"dev": from_rate("dev", dev, 100)}, 0.01)


def test_baselines_run_unless_switched_off() -> None:
    data = separable()
    found = baselines_for(spec_with(), data)
    assert found is not None and [s.name for s in found.scores][:1] == ["majority"]
    assert "logistic_regression" in [s.name for s in found.scores]
    assert baselines_for(spec_with(baselines=False), data) is None


def test_the_reference_is_the_best_classical_baseline_else_the_best_trivial_one() -> None:
    both = Baselines([score("majority", "trivial", 0.1), score("logistic_regression", "classical", 0.3)], {})
    assert reference_of(both).name == "logistic_regression"
    trivial = Baselines([score("majority", "trivial", 0.5), score("mean", "trivial", 0.4)], {"ridge": "why"})
    assert reference_of(trivial).name == "mean"
    assert reference_of(None) is None and reference_of(Baselines([], {})) is None


def test_errors_from_stored_metrics_carry_sizes_and_binomial_noise() -> None:
    data = separable()
    found = errors_from_metrics({"train_accuracy": 0.9, "dev_accuracy": 0.8}, data, spec_with())
    assert set(found) == {"train", "dev"}
    assert found["dev"].n == 20 and found["dev"].error == pytest.approx(0.2)
    assert found["dev"].se == pytest.approx(binomial_se(0.2, 20))


def test_regression_errors_without_a_model_have_unknown_noise_and_claim_nothing() -> None:
    x = np.arange(40, dtype="float32").reshape(-1, 1)
    data = dataset_from("tabular", "regression", x, x[:, 0] * 2, dev=10)
    spec = Spec.model_validate(minimal_spec(search={"objective": {"metric": "dev_mae"}}))
    errors = errors_from_metrics({"train_mae": 1.0, "dev_mae": 3.0}, data, spec)
    assert math.isnan(errors["dev"].se)
    assert diagnose_errors(spec, data, errors, None, None).problems == []


def test_floor_and_human_level_come_from_the_spec() -> None:
    data = separable()
    errors = {"train": SplitError("train", 0.2, 10_000, 0.004), "dev": SplitError("dev", 0.21, 10_000, 0.004)}
    default = diagnose_errors(spec_with(), data, errors, None, None)
    assert default.floor == 0.01 and default.human is None and "avoidable_bias" not in default.gaps
    given = diagnose_errors(spec_with(human_error=0.05, tolerance=0.02), data, errors, None, None)
    assert given.floor == 0.02 and given.problems == ["avoidable_bias"] and given.origin == "random"


def test_a_record_without_train_or_dev_cannot_be_diagnosed() -> None:
    with pytest.raises(AutodlError, match="measured on dev, but the diagnosis needs train and dev"):
        diagnose_errors(spec_with(), separable(), {"dev": from_rate("dev", 0.1, 20)}, None, None)


def test_a_gap_of_unknown_noise_says_so() -> None:
    errors = {"train": SplitError("train", 1.0, 30, math.nan), "dev": SplitError("dev", 3.0, 10, math.nan)}
    found = diagnose_errors(Spec.model_validate(minimal_spec(search={"objective": {"metric": "dev_mae"}})),
                            dataset_from("tabular", "regression", np.zeros((40, 1), "float32"),
                                         np.zeros(40, "float32"), dev=10), errors, None, None)
    assert any("has no known uncertainty" in note and "not claimed" in note for note in found.notes)
