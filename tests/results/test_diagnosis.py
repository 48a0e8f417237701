"""The diagnosis, table-driven and without training: the seeds' canonical cases at large n (the
verdict the course gives) and at small n (the verdict says the split is too small), split
origins, human level, baselines, and the record round trip."""

from __future__ import annotations

import math

import pytest

from autodl.results.diagnosis import Diagnosis, Reference, default_floor, diagnose, is_current
from autodl.results.uncertainty import ERROR_RATE, SplitError, binomial_se, from_rate

BIG = 100_000
SMALL = 18


def rates(n: int, **errors: float) -> dict[str, SplitError]:
    return {name: from_rate(name, value, n) for name, value in errors.items()}


# train / dev, with human-level error 0 given: the seeds' four cases.
TWO_SPLITS = [
    ({"train": 0.01, "dev": 0.11}, ["variance"]),
    ({"train": 0.15, "dev": 0.16}, ["avoidable_bias"]),
    ({"train": 0.15, "dev": 0.30}, ["avoidable_bias", "variance"]),
    ({"train": 0.005, "dev": 0.01}, []),
]
# train / train-dev / dev, dev from other files: the seeds' mismatch cases.
THREE_SPLITS = [
    ({"train": 0.01, "train_dev": 0.09, "dev": 0.10}, ["variance"]),
    ({"train": 0.01, "train_dev": 0.015, "dev": 0.10}, ["data_mismatch"]),
    ({"train": 0.10, "train_dev": 0.11, "dev": 0.12}, ["avoidable_bias"]),
    ({"train": 0.10, "train_dev": 0.11, "dev": 0.20}, ["avoidable_bias", "data_mismatch"]),
]


@pytest.mark.parametrize(("errors", "problems"), TWO_SPLITS + THREE_SPLITS)
def test_canonical_cases_at_large_n(errors: dict[str, float], problems: list[str]) -> None:
    found = diagnose(ERROR_RATE, rates(BIG, **errors), human=0.0, origin="by_file")
    assert sorted(found.problems) == sorted(problems)
    assert found.problems == sorted(found.problems, key=lambda p: -found.gaps[p].size)


def test_low_bias_and_variance_says_so() -> None:
    found = diagnose(ERROR_RATE, rates(BIG, train=0.005, dev=0.01), human=0.0)
    assert found.verdict == "no clear problem: every gap is below its noise and the floor 0.01"


@pytest.mark.parametrize(("errors", "problems"), TWO_SPLITS[:3] + THREE_SPLITS)
def test_canonical_cases_at_small_n_say_the_split_is_too_small(errors: dict[str, float], problems: list[str]) -> None:
    found = diagnose(ERROR_RATE, rates(SMALL, **errors), human=0.0, origin="by_file")
    big_gaps = [g for g in found.gaps.values() if g.size > 0.05]
    assert all(not g.clear for g in big_gaps if g.size < g.resolvable)
    for gap in big_gaps:
        if not gap.clear:
            assert any(f"has {SMALL} examples" in note and f"under {gap.resolvable:.2g}" in note
                       for note in found.notes), found.notes


def test_one_dev_error_in_18_is_no_evidence() -> None:
    """The wine case of the issue: train 0, train-dev 0, dev 1 / 18, a random split."""
    errors = {"train": from_rate("train", 0.0, 124), "train_dev": from_rate("train_dev", 0.0, 18),
              "dev": from_rate("dev", 1 / 18, 18)}
    found = diagnose(ERROR_RATE, errors)
    assert found.problems == []
    assert "data mismatch" not in found.verdict
    assert found.verdict == "no gap stands out from the noise (train-dev has 18 examples)"
    note = next(n for n in found.notes if n.startswith("Dev has 18 examples"))
    assert f"under {found.gaps['dev_vs_train_dev'].resolvable:.2g} cannot be told from noise" in note
    assert "examples per split would resolve a gap of this size" in note


def test_resolution_and_examples_needed_follow_the_binomial_noise() -> None:
    errors = rates(SMALL, train=0.0, train_dev=0.05, dev=0.15)
    gap = diagnose(ERROR_RATE, errors, human=0.0, origin="by_file").gaps["data_mismatch"]
    se = math.sqrt(binomial_se(0.05, SMALL) ** 2 + binomial_se(0.15, SMALL) ** 2)
    assert gap.se == pytest.approx(se)
    assert gap.resolvable == pytest.approx(2 * se)
    assert not gap.clear
    found = diagnose(ERROR_RATE, errors, human=0.0, origin="by_file")
    needed = math.ceil(4 * SMALL * se**2 / 0.10**2)
    assert any(f"about {needed} examples per split" in n for n in found.notes)
    assert any(f"collect about {needed - SMALL} more dev examples" in s for s in found.recommendations())


@pytest.mark.parametrize("n", [SMALL, 300, BIG])
def test_a_random_split_never_yields_data_mismatch(n: int) -> None:
    found = diagnose(ERROR_RATE, rates(n, train=0.01, train_dev=0.015, dev=0.30), human=0.0, origin="random")
    assert "data_mismatch" not in found.gaps and "data_mismatch" not in found.problems
    assert "data mismatch" not in found.verdict
    assert any("share a distribution" in note and "never a data mismatch" in note for note in found.notes)


def test_past_human_level_is_said_and_bias_not_claimed() -> None:
    found = diagnose(ERROR_RATE, rates(BIG, train=0.01, train_dev=0.04, dev=0.05), human=0.03)
    assert found.past_human
    assert found.verdict.startswith("past human level; ")
    assert "avoidable_bias" not in found.problems and "variance" in found.problems
    assert any("past human level, so avoidable bias can no longer be read" in n for n in found.notes)
    assert any(s.startswith("error analysis") for s in found.recommendations())


def test_without_human_error_no_bias_is_claimed_and_the_field_is_named() -> None:
    found = diagnose(ERROR_RATE, rates(BIG, train=0.20, dev=0.21))
    assert "avoidable_bias" not in found.gaps
    assert found.problems == []
    assert any("Set diagnostics.human_error" in n and "0.2" in n for n in found.notes)


def test_regression_without_human_reads_bias_against_the_baseline() -> None:
    dev = SplitError("dev", 3.0, 200, 0.2)
    errors = {"train": SplitError("train", 2.9, 800, 0.1), "dev": dev}
    ridge = Reference("ridge", "ridge regression on the flattened inputs",
                      {"dev": SplitError("dev", 3.1, 200, 0.2)})
    found = diagnose("mae", errors, floor=default_floor("regression", dev), reference=ridge, baselines=(ridge,))
    assert found.beats_reference is False
    assert found.verdict == "no gap stands out from the noise (dev has 200 examples)"
    assert "**Warning:** the best network does not beat the ridge baseline by more than the noise." in found.report()
    assert any("does not beat it by more than the noise" in n and "the reference for bias" in n for n in found.notes)
    assert "avoidable_bias" not in found.gaps
    far = Reference("ridge", "r", {"dev": SplitError("dev", 5.0, 200, 0.2)})
    clear = diagnose("mae", errors, floor=0.06, reference=far)
    assert clear.beats_reference is True and clear.problems == []


def test_recommendations_name_the_spec_fields_in_gap_order() -> None:
    found = diagnose(ERROR_RATE, rates(BIG, train=0.10, dev=0.30), human=0.0, family="cnn", kind="image")
    steps = found.recommendations()
    assert found.problems == ["variance", "avoidable_bias"]
    assert steps.index("regularize: raise `model.dropout`, add `model.l2`") < steps.index(
        "a bigger network: raise `model.filters` / `model.dense_units`, or add `model.blocks`")
    assert "augment: `model.rotation`, `model.zoom`, `model.translation`, `model.flip`" in steps
    rnn = diagnose(ERROR_RATE, rates(BIG, train=0.2, dev=0.21), human=0.0, family="rnn").recommendations()
    assert rnn[0] == "a bigger network: widen `model.units` or add `model.layers`"


@pytest.mark.parametrize(("p", "n"), [(0.1, 100_000), (0.5, 10_000)])
def test_binomial_se_is_the_textbook_one_on_large_splits(p: float, n: int) -> None:
    assert binomial_se(p, n) == pytest.approx(math.sqrt(p * (1 - p) / n), rel=1e-3)


def test_no_errors_in_a_small_split_is_not_an_exact_zero() -> None:
    assert binomial_se(0.0, 18) == pytest.approx(math.sqrt((2 / 22) * (20 / 22) / 22))
    assert binomial_se(1.0, 18) == pytest.approx(binomial_se(0.0, 18)) and binomial_se(0.0, 0) == 0.0


@pytest.mark.parametrize(("trend", "suffix"), [
    ("falling", "; the learning curve says more data helps (dev error still falling)"),
    ("flat", "; the learning curve says more data will not help (dev error has met train error)"),
    ("unclear", ""),
])
def test_the_learning_curve_joins_the_verdict(trend: str, suffix: str) -> None:
    found = diagnose(ERROR_RATE, rates(BIG, train=0.01, dev=0.11), human=0.0, curve_trend=trend,
                     curve_reading=f"Dev error went {trend}.")
    assert found.verdict == "variance" + suffix
    assert f"Dev error went {trend}." in found.notes


def test_report_metrics_and_record_show_sizes_and_uncertainty() -> None:
    ridge = Reference("logistic_regression", "logistic regression", rates(300, dev=0.2, test=0.22))
    found = diagnose(ERROR_RATE, rates(300, train=0.01, train_dev=0.05, dev=0.12, test=0.13), human=0.0,
                     origin="by_file", reference=ridge, baselines=(ridge,))
    text = found.report()
    assert "| dev | 300 | 0.12 | 0.038 |" in text
    assert "| logistic_regression: logistic regression | 0.2 ± 0.046 | 0.22 ± 0.048 |" in text
    assert f"**Verdict:** {found.verdict}." in text
    metrics = found.metrics()
    assert metrics["dev_n"] == 300 and metrics["dev_error_se"] == pytest.approx(binomial_se(0.12, 300))
    assert metrics["baseline_logistic_regression_dev_error"] == 0.2
    stored = found.to_record()
    assert is_current(stored) and stored["verdict"] == found.verdict
    again = Diagnosis.from_record(stored)
    assert again.report() == text and again.verdict == found.verdict
    assert not is_current({"metric": "x", "train": 0.1})
