"""Learning curves: subsamples of train, one fit per share (a fake model), the trend rule, its
reading, the stored record and the plot; one real tiny MLP on the digits through best_trial_fit."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autodl.data.dataset import SPLITS, Dataset, Split
from autodl.data.series import SeriesData
from autodl.errors import AutodlError
from autodl.outcome import TrialOutcome
from autodl.results.learning_curve import (
    CURVE_FILE,
    SHARES,
    CurvePoint,
    LearningCurve,
    best_trial_fit,
    learning_curve,
    plot_learning_curve,
    subsample,
)
from autodl.results.uncertainty import ERROR_RATE, SplitError
from autodl.spec.document import load_spec
from tests.helpers import dataset_from, minimal_spec

PNG = b"\x89PNG\r\n\x1a\n"
NAMES = ("a", "b", "c")


def labelled(n_train: int = 400, n_dev: int = 300, seed: int = 0) -> Dataset:
    """Three classes (70% / 25% / 5% in train); each row is (label, difficulty in [0, 1), split),
    which ``Graded`` reads to get a chosen error rate."""
    rng = np.random.default_rng(seed)
    splits = {}
    for name in SPLITS:
        n = n_train if name == "train" else n_dev
        y = rng.choice(3, size=n, p=[0.7, 0.25, 0.05])
        y[:3] = [0, 1, 2]
        x = np.stack([y, rng.random(n), np.full(n, SPLITS.index(name))], axis=1).astype("float32")
        splits[name] = Split(x, y.astype("int64"))
    return Dataset("graded", "tabular", "multiclass", splits, NAMES)


class Graded:
    """A fake classifier: wrong on the rows whose difficulty is below its error rate for that
    row's split (the next class instead), softmax-like one-hot outputs otherwise."""

    def __init__(self, train_error: float, dev_error: float) -> None:
        self.rates = {SPLITS.index("train"): train_error, SPLITS.index("dev"): dev_error}
        self.calls: list[dict[str, Any]] = []

    def predict(self, x: np.ndarray, batch_size: int, verbose: int = 0) -> np.ndarray:
        self.calls.append({"n": len(x), "batch_size": batch_size, "verbose": verbose})
        label = x[:, 0].astype(int)
        rate = np.array([self.rates[int(s)] for s in x[:, 2]])
        predicted = np.where(x[:, 1] < rate, (label + 1) % 3, label)
        return np.eye(3)[predicted]


def point(share: float, n: int, train: tuple[float, float], dev: tuple[float, float], n_dev: int = 500) -> CurvePoint:
    """A hand-made point: (error, standard error) of train and of dev."""
    return CurvePoint(share, n, 7, SplitError("train", train[0], n, train[1]),
                      SplitError("dev", dev[0], n_dev, dev[1]))


# --- subsample ------------------------------------------------------------------------------------


@pytest.mark.parametrize("share", [0.25, 0.5, 0.9])
def test_subsample_keeps_the_share_and_every_class(share: float) -> None:
    data = labelled()
    part = subsample(data, share, seed=1)
    assert len(part.train) == round(share * 400)
    assert set(part.train.y.tolist()) == {0, 1, 2}
    full = np.bincount(data.train.y) / len(data.train)
    np.testing.assert_allclose(np.bincount(part.train.y) / len(part.train), full, atol=0.02)
    rows = {tuple(r) for r in data.train.x.tolist()}
    assert all(tuple(r) in rows for r in part.train.x.tolist())
    order = [np.flatnonzero((data.train.x == r).all(axis=1))[0] for r in part.train.x]
    assert order == sorted(order)


def test_subsample_keeps_a_rare_class_at_a_tiny_share() -> None:
    y = np.array([0] * 97 + [1, 1, 2])
    data = dataset_from("tabular", "multiclass", np.arange(100, dtype="float32")[:, None], y)
    part = subsample(data, 0.05, seed=0)
    assert len(part.train) == 5 and set(part.train.y.tolist()) == {0, 1, 2}
    assert len(subsample(data, 0.01, seed=0).train) == 3


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_subsample_is_seeded(task: str) -> None:
    x = np.arange(200, dtype="float32")[:, None]
    y = np.arange(200) % 3 if task == "multiclass" else np.linspace(0, 1, 200).astype("float32")
    data = dataset_from("tabular", task, x, y)
    first, again, other = (subsample(data, 0.5, seed) for seed in (3, 3, 4))
    assert len(first.train) == 100
    np.testing.assert_array_equal(first.train.x, again.train.x)
    assert not np.array_equal(first.train.x, other.train.x)


def test_subsample_keeps_the_last_windows_of_a_series_in_time_order() -> None:
    series = SeriesData.split("steps", np.arange(200, dtype="float32"),
                              {"train": 0.7, "train_dev": 0.1, "dev": 0.1, "test": 0.1}, horizon=1, stride=1)
    data = series.windows(5)
    part = subsample(data, 0.25, seed=0)
    n = len(data.train)
    keep = round(0.25 * n)
    np.testing.assert_array_equal(part.train.x, data.train.x[n - keep:])
    np.testing.assert_array_equal(part.train.y, data.train.y[n - keep:])
    assert np.all(np.diff(part.train.y) > 0) and part.origin == "by_time"
    shuffled = dataset_from("sequence", "regression", data.train.x, data.train.y)
    drawn = subsample(shuffled, 0.25, seed=0).train.y
    assert len(drawn) == keep and not np.array_equal(drawn, data.train.y[n - keep:])


def test_subsample_leaves_the_other_splits_and_full_share_is_the_data() -> None:
    data = labelled()
    part = subsample(data, 0.5, seed=0)
    assert all(part.splits[name] is data.splits[name] for name in ("train_dev", "dev", "test"))
    assert (part.name, part.kind, part.task, part.class_names, part.origin) == (
        data.name, data.kind, data.task, NAMES, data.origin)
    assert subsample(data, 1.0, seed=5) is data


@pytest.mark.parametrize("share", [0.0, -0.5, 1.5])
def test_subsample_refuses_a_share_outside_zero_to_one(share: float) -> None:
    with pytest.raises(AutodlError, match="share of train"):
        subsample(labelled(), share, seed=0)


# --- learning_curve with a fake fit ---------------------------------------------------------------


def test_learning_curve_fits_once_per_share_with_growing_data_and_distinct_seeds() -> None:
    data = labelled(n_train=800, n_dev=400)
    fits: list[tuple[int, int]] = []
    models: list[Graded] = []

    def fit(part: Dataset, seed: int) -> Graded:
        fits.append((len(part.train), seed))
        models.append(Graded(train_error=0.05, dev_error=8 / len(part.train) ** 0.5))
        return models[-1]

    curve = learning_curve(data, fit, ERROR_RATE, batch_size=32, shares=(1.0, 0.25, 0.5), seed=11)
    assert [n for n, _ in fits] == [200, 400, 800]
    assert len({s for _, s in fits}) == 3
    assert [p.share for p in curve.points] == list(SHARES)
    assert [(p.n_train, p.seed) for p in curve.points] == fits
    for p, model in zip(curve.points, models, strict=True):
        assert (p.train.n, p.dev.n) == (p.n_train, 400)
        assert [c["n"] for c in model.calls] == [p.n_train, 400]
        assert all(c["batch_size"] == 32 and c["verbose"] == 0 for c in model.calls)
    dev = [p.dev.error for p in curve.points]
    assert dev[0] > dev[1] > dev[2] and dev[2] == pytest.approx(8 / 800**0.5, abs=0.06)
    assert curve.metric == ERROR_RATE and curve.trend() == "falling"
    again = learning_curve(data, lambda part, seed: Graded(0.05, 0.1), ERROR_RATE, 32, seed=11)
    assert [p.seed for p in again.points] == [s for _, s in fits]
    other = learning_curve(data, lambda part, seed: Graded(0.05, 0.1), ERROR_RATE, 32, seed=12)
    assert [p.seed for p in other.points] != [s for _, s in fits]


def test_learning_curve_needs_shares_and_a_dev_split() -> None:
    data = labelled()
    with pytest.raises(AutodlError, match="at least one share"):
        learning_curve(data, lambda part, seed: Graded(0, 0), ERROR_RATE, 32, shares=())
    empty_dev = Dataset(data.name, data.kind, data.task,
                        {**data.splits, "dev": Split(data.train.x[:0], data.train.y[:0])}, NAMES)
    with pytest.raises(AutodlError, match="dev split is empty"):
        learning_curve(empty_dev, lambda part, seed: Graded(0, 0), ERROR_RATE, 32)


# --- the trend rule and its reading --------------------------------------------------------------

FALLING = [point(0.5, 450, (0.05, 0.010), (0.214, 0.015)), point(1.0, 900, (0.06, 0.008), (0.152, 0.013))]
FLAT = [point(0.5, 450, (0.10, 0.014), (0.130, 0.015)), point(1.0, 900, (0.11, 0.010), (0.125, 0.015))]
UNCLEAR = [point(0.5, 450, (0.01, 0.005), (0.130, 0.015)), point(1.0, 900, (0.01, 0.003), (0.125, 0.015))]
RISING = [point(0.5, 450, (0.01, 0.005), (0.100, 0.010)), point(1.0, 900, (0.01, 0.003), (0.160, 0.012))]


@pytest.mark.parametrize(("points", "trend"), [
    (FALLING, "falling"),
    (FLAT, "flat"),
    (UNCLEAR, "unclear"),
    (RISING, "unclear"),
    (FALLING[1:], "unclear"),
    ([], "unclear"),
    ([point(0.25, 225, (0.0, 0.0), (0.40, 0.03)), *FLAT], "flat"),
])
def test_trend(points: list[CurvePoint], trend: str) -> None:
    assert LearningCurve(ERROR_RATE, points).trend() == trend


def test_trend_edges_are_two_standard_errors() -> None:
    se = 0.01  # both dev points: the drop's standard error is 0.01 * sqrt(2) = 0.01414
    just_over = [point(0.5, 450, (0.0, 0.0), (0.2 + 0.02829, se)), point(1.0, 900, (0.0, 0.0), (0.2, se))]
    just_under = [point(0.5, 450, (0.0, 0.0), (0.2 + 0.02828, se)), point(1.0, 900, (0.0, 0.0), (0.2, se))]
    assert LearningCurve(ERROR_RATE, just_over).trend() == "falling"
    assert LearningCurve(ERROR_RATE, just_under).trend() == "unclear"
    # train error 0.18 +- 0.01 against dev 0.2 +- 0.01: the gap 0.02 is within 2 * 0.01414
    met = [point(0.5, 450, (0.17, se), (0.2, se)), point(1.0, 900, (0.18, se), (0.2, se))]
    apart = [point(0.5, 450, (0.17, se), (0.2, se)), point(1.0, 900, (0.17, se), (0.2, se))]
    assert LearningCurve(ERROR_RATE, met).trend() == "flat"
    assert LearningCurve(ERROR_RATE, apart).trend() == "unclear"


def test_reading_gives_the_numbers_and_their_uncertainty() -> None:
    falling = LearningCurve(ERROR_RATE, FALLING).reading()
    assert falling == (
        "Dev error fell from 0.214 ± 0.030 (n=450 training examples) to 0.152 ± 0.026 (n=900; ± is "
        "2 standard errors): still falling, so more training data should help (variance)."
    )
    flat = LearningCurve(ERROR_RATE, FLAT).reading()
    assert "0.130 ± 0.030" in flat and "0.125 ± 0.030" in flat and "within noise" in flat
    assert "train error 0.110 ± 0.020" in flat and "will not help (bias)" in flat
    unclear = LearningCurve(ERROR_RATE, UNCLEAR).reading()
    assert "stays 0.115 above the train error 0.010 ± 0.006" in unclear and "regularization" in unclear
    rising = LearningCurve(ERROR_RATE, RISING).reading()
    assert rising.startswith("Dev error rose from 0.100 ± 0.020") and "within noise" not in rising
    single = LearningCurve(ERROR_RATE, FALLING[1:]).reading()
    assert "Only one training-set size" in single and "n=900" in single and "0.152 ± 0.026" in single
    mae = LearningCurve("mae", [point(0.5, 450, (3.2, 0.1), (12.5, 0.5)), point(1.0, 900, (3.1, 0.1), (8.25, 0.4))])
    assert "12.5 ± 1" in mae.reading() and "8.25 ± 0.8" in mae.reading()


def test_record_round_trips_through_json() -> None:
    curve = LearningCurve(ERROR_RATE, [point(0.25, 225, (0.0, 0.0), (0.40, 0.03)), *FALLING])
    record = json.loads(json.dumps(curve.to_record()))
    assert record["trend"] == "falling" and record["reading"] == curve.reading()
    assert record["points"][0] == {
        "share": 0.25, "n_train": 225, "seed": 7,
        "train": {"name": "train", "error": 0.0, "n": 225, "se": 0.0},
        "dev": {"name": "dev", "error": 0.4, "n": 500, "se": 0.03},
    }
    assert LearningCurve.from_record(record) == curve


@pytest.mark.parametrize("points", [FALLING, [point(0.1, 90, (0.0, 0.0), (0.4, 0.03)), *FALLING], FALLING[1:]])
def test_plot_writes_a_png(tmp_path: Path, points: list[CurvePoint]) -> None:
    path = tmp_path / "best" / CURVE_FILE
    plot_learning_curve(LearningCurve(ERROR_RATE, points), path)
    assert path.read_bytes().startswith(PNG)


# --- best_trial_fit --------------------------------------------------------------------------------


def test_best_trial_fit_replays_the_configuration_and_reports_a_failure(
    write_spec: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(write_spec(minimal_spec(model={"family": "mlp"}, tracking={"enabled": False})))
    config = {"model": {"family": "mlp", "units": 8}, "training": {"batch_size": 16}}
    record = {"trial": 4, "config": config, "hyperparameters": {"model.units": 8}}
    calls: list[tuple[Any, ...]] = []
    states = iter([TrialOutcome("complete", model="a model"), TrialOutcome("failed", reason="loss is nan")])

    def fake_run_trial(*args: Any) -> TrialOutcome:
        calls.append(args)
        return next(states)

    monkeypatch.setattr("autodl.results.learning_curve.run_trial", fake_run_trial)
    fit = best_trial_fit(spec, record)  # type: ignore[arg-type]
    data = labelled()
    assert fit(data, 9) == "a model"
    cfg, given, objective, seed, should_prune, listeners, build, suggest, xla = calls[0]
    assert cfg == config and given is data and (objective, seed, listeners) == ("dev_accuracy", 9, [])
    assert should_prune(1, 0.0) is False and suggest("model.units", None) == 8 and xla == "auto"
    with pytest.raises(AutodlError, match=r"trial 4's configuration on 400 examples failed: loss is nan"):
        fit(data, 10)


@pytest.mark.slow
def test_best_trial_fit_trains_a_tiny_mlp_on_growing_digits(write_spec: Any, tmp_path: Path) -> None:
    import optuna

    from autodl.data import load_dataset
    from autodl.search.sampling import sample_config

    started = time.perf_counter()
    spec = load_spec(write_spec(minimal_spec(
        model={"family": "mlp", "layers": 1, "units": 16}, optimizer={"learning_rate": 0.01},
        training={"epochs": 1, "batch_size": 64}, tracking={"enabled": False},
    )))
    config = sample_config(spec, optuna.trial.FixedTrial({})).config
    data = load_dataset(spec.data, spec.base_dir, spec.seed)
    assert isinstance(data, Dataset)
    record = {"trial": 0, "config": config, "hyperparameters": {}}
    curve = learning_curve(data, best_trial_fit(spec, record), ERROR_RATE, 64, seed=spec.seed)  # type: ignore[arg-type]
    assert [p.n_train for p in curve.points] == [round(s * len(data.train)) for s in SHARES]
    assert all(0 <= p.train.error <= 1 and 0 <= p.dev.error <= 1 and p.dev.se > 0 for p in curve.points)
    assert curve.trend() in ("falling", "flat", "unclear") and "n=" in curve.reading()
    plot_learning_curve(curve, tmp_path / CURVE_FILE)
    assert (tmp_path / CURVE_FILE).read_bytes().startswith(PNG)
    assert time.perf_counter() - started < 30
