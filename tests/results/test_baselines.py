"""The trivial and classical baselines: their errors computed by hand, what skips them, best.json."""

from __future__ import annotations

import ast
import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from autodl.data import load_dataset
from autodl.data.dataset import SPLITS, Dataset, Kind, Split, Task
from autodl.data.series import SeriesData
from autodl.results import baselines
from autodl.results.baselines import Baselines, BaselineScore, score_baselines
from autodl.results.uncertainty import ERROR_RATE, SplitError
from autodl.spec.sections import DataSpec

POSITIVE = ["a wonderful film, I loved it", "great acting and a great story", "truly excellent, loved it",
            "the best movie this year", "a delight from start to finish", "excellent plot, wonderful cast",
            "I loved the story and the acting", "great fun, highly recommended", "a wonderful, moving story",
            "brilliant and excellent work", "what a great movie", "loved every minute, excellent",
            "superb acting, a great film", "highly recommended, wonderful", "an excellent, delightful film",
            "great story, loved the ending", "the cast is brilliant and great", "wonderful music, great film",
            "I loved it, simply excellent", "a great and wonderful experience"]
NEGATIVE = ["a terrible film, I hated it", "awful acting and a boring story", "truly bad, hated it",
            "the worst movie this year", "a bore from start to finish", "boring plot, terrible cast",
            "I hated the story and the acting", "awful, not recommended", "a terrible, dull story",
            "poor and boring work", "what an awful movie", "hated every minute, terrible",
            "bad acting, an awful film", "not recommended, terrible", "a boring, dreadful film",
            "awful story, hated the ending", "the cast is poor and awful", "terrible music, bad film",
            "I hated it, simply awful", "a boring and terrible experience"]


@cache
def digits() -> Dataset:
    loaded = load_dataset(DataSpec(source="digits"), Path("."), 0)
    assert isinstance(loaded, Dataset)
    return loaded


@cache
def sunspots(window: int = 12, horizon: int = 1) -> Dataset:
    loaded = load_dataset(DataSpec(source="sunspots", series="SUNACTIVITY", horizon=horizon), Path("."), 0)
    assert isinstance(loaded, SeriesData)
    return loaded.windows(window)


def sentences() -> Dataset:
    """40 hand-written reviews: every other one of each class for train, the rest dev and test."""
    x = np.array([s for pair in zip(POSITIVE, NEGATIVE, strict=True) for s in pair], dtype=object)
    y = np.tile([1, 0], len(POSITIVE))
    splits = {"train": Split(x[:24], y[:24]), "train_dev": Split(x[:0], y[:0]),
              "dev": Split(x[24:32], y[24:32]), "test": Split(x[32:], y[32:])}
    return Dataset("reviews", "text", "binary", splits, ("negative", "positive"))


def table(kind: Kind, task: Task, x: np.ndarray, y: np.ndarray, cuts: tuple[int, int, int],
          names: tuple[str, ...] = ()) -> Dataset:
    """``x``/``y`` cut at ``cuts`` into train, train-dev, dev and test, in order."""
    edges = [0, *cuts, len(y)]
    splits = {name: Split(x[a:b], y[a:b]) for name, a, b in zip(SPLITS, edges[:-1], edges[1:], strict=True)}
    return Dataset("hand-made", kind, task, splits, names)


def by_name(result: Baselines) -> dict[str, BaselineScore]:
    return {score.name: score for score in result.scores}


class FileStream:
    """Stands in for a stream: the splits hold file references, not examples."""

    shape = (8, 8, 1)

    def dataset(self, refs: np.ndarray) -> object:
        raise AssertionError("a baseline must not read a streamed split")

    def read(self, refs: np.ndarray) -> np.ndarray:
        raise AssertionError("a baseline must not read a streamed split")


@pytest.mark.parametrize(("task", "names"), [("binary", ("no", "yes")), ("multiclass", ("a", "b", "c"))])
def test_majority_error_is_one_minus_the_dev_share_of_the_training_majority(task: Task, names: tuple) -> None:
    rng = np.random.default_rng(1)
    weights = [0.3, 0.7] if task == "binary" else [0.2, 0.5, 0.3]
    y = rng.choice(len(names), size=200, p=weights)
    data = table("tabular", task, rng.normal(size=(200, 3)), y, (120, 140, 170), names)
    majority = by_name(score_baselines(data, ERROR_RATE, 0))["majority"]
    top = int(np.bincount(y[:120]).argmax())
    assert top == 1 and majority.kind == "trivial"
    assert f"({names[1]}, " in majority.description
    for split, (a, b) in {"train": (0, 120), "train_dev": (120, 140), "dev": (140, 170), "test": (170, 200)}.items():
        assert majority.errors[split].error == pytest.approx(1 - np.mean(y[a:b] == top))


@pytest.mark.parametrize("metric", ["mae", "rmse", "loss"])
def test_mean_baseline_errors_by_hand(metric: str) -> None:
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    data = table("tabular", "regression", x, y.astype("float32"), (300, 340, 390))
    result = by_name(score_baselines(data, metric, 0))
    residual = data.splits["dev"].y - data.train.y.astype("float64").mean()
    expected = {"mae": np.mean(np.abs(residual)), "rmse": math.sqrt(np.mean(residual**2)),
                "loss": np.mean(residual**2)}[metric]
    assert result["mean"].errors["dev"].error == pytest.approx(expected)
    assert "last_value" not in result  # a table is no series
    assert result["ridge"].errors["dev"].error < result["mean"].errors["dev"].error


@pytest.mark.parametrize("horizon", [1, 3])
def test_last_value_on_sunspot_windows_by_hand(horizon: int) -> None:
    data = sunspots(12, horizon)
    result = by_name(score_baselines(data, "mae", 0))
    dev = data.splits["dev"]
    assert result["last_value"].errors["dev"].error == pytest.approx(np.mean(np.abs(dev.y - dev.x[:, -1, 0])))
    if horizon == 1:  # a year on, the sunspot number is still close; three years on, less than the mean
        assert result["last_value"].errors["dev"].error < result["mean"].errors["dev"].error
    assert set(result) == {"mean", "last_value", "ridge"}


def test_last_value_takes_windows_without_a_feature_axis_and_column_targets() -> None:
    x = np.arange(40, dtype="float32").reshape(10, 4) ** 1.5
    y = (x[:, -1] + 2.0)[:, np.newaxis]
    data = table("sequence", "regression", x, y, (4, 6, 8))
    result = by_name(score_baselines(data, "rmse", 0))
    assert {s: e.error for s, e in result["last_value"].errors.items()} == pytest.approx(
        dict.fromkeys(SPLITS, 2.0))


def test_logistic_regression_on_digits_is_a_strong_baseline() -> None:
    result = score_baselines(digits(), ERROR_RATE, 0)
    logistic = by_name(result)["logistic_regression"]
    assert logistic.kind == "classical" and result.skipped == {}
    assert logistic.errors["dev"].error < 0.1
    assert result.best() is logistic
    assert "64 standardized input values" in logistic.description


def test_tfidf_logistic_regression_beats_majority_on_sentences() -> None:
    result = by_name(score_baselines(sentences(), ERROR_RATE, 0))
    tfidf = result["tfidf_logistic_regression"]
    assert tfidf.errors["dev"].error < result["majority"].errors["dev"].error
    assert tfidf.errors["test"].error < result["majority"].errors["test"].error
    assert "TF-IDF" in tfidf.description and "train_dev" not in tfidf.errors  # empty splits are left out


@pytest.mark.parametrize(("data", "metric"), [(digits, ERROR_RATE), (sentences, ERROR_RATE), (sunspots, "rmse")])
def test_every_error_carries_its_split_size_and_standard_error(data, metric: str) -> None:
    dataset = data()
    result = score_baselines(dataset, metric, 0)
    assert result.scores
    for score in result.scores:
        assert set(score.errors) == {s for s in SPLITS if len(dataset.splits[s])}
        assert score.seconds >= 0
        for split, error in score.errors.items():
            assert error.name == split and error.n == len(dataset.splits[split])
            if dataset.task == "regression" or 0 < error.error < 1:
                assert error.se > 0


def test_a_streamed_dataset_skips_the_classical_baseline_but_scores_the_trivial_one() -> None:
    y = np.array([0, 0, 0, 1] * 10)
    refs = np.array([f"img/{i}.png" for i in range(len(y))])
    splits = {name: Split(refs[i::4], y[i::4], FileStream()) for i, name in enumerate(SPLITS)}
    data = Dataset("folder", "image", "binary", splits, ("cat", "dog"))
    result = score_baselines(data, ERROR_RATE, 0)
    assert [s.name for s in result.scores] == ["majority"]
    assert result.scores[0].errors["dev"].error == pytest.approx(0.0)
    assert result.scores[0].errors["test"].error == pytest.approx(1.0)
    assert "stream" in result.skipped["logistic_regression"]


def test_a_classical_fit_that_raises_is_skipped_with_its_reason() -> None:
    x = np.random.default_rng(0).normal(size=(30, 4))
    y = np.array([0] * 20 + [0, 1] * 5)  # a single class in train
    result = score_baselines(table("tabular", "binary", x, y, (20, 24, 27), ("a", "b")), ERROR_RATE, 0)
    reason = result.skipped["logistic_regression"]
    assert reason.startswith("ValueError: ") and "class" in reason
    assert "\n" not in reason and "Traceback" not in reason
    assert [s.name for s in result.scores] == ["majority"]


def test_inputs_too_wide_for_the_value_cap_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baselines, "MAX_CELLS", 1_000)
    result = score_baselines(digits(), ERROR_RATE, 0)
    assert result.skipped["logistic_regression"].startswith("each example has 64 input values")
    assert [s.name for s in result.scores] == ["majority"]


def test_a_spent_budget_skips_the_classical_baseline() -> None:
    result = score_baselines(digits(), ERROR_RATE, 0, budget_s=0)
    assert "budget of 0 s" in result.skipped["logistic_regression"]
    assert [s.name for s in result.scores] == ["majority"]


def test_training_rows_are_subsampled_but_every_split_is_scored() -> None:
    data = digits()
    first = by_name(score_baselines(data, ERROR_RATE, 3, max_rows=200))["logistic_regression"]
    again = by_name(score_baselines(data, ERROR_RATE, 3, max_rows=200))["logistic_regression"]
    assert "fitted on 200 training examples" in first.description
    assert first.errors["train"].n == len(data.train)
    assert first.errors == again.errors  # seeded
    assert first.errors["dev"].error > by_name(score_baselines(data, ERROR_RATE, 3))["logistic_regression"].errors[
        "dev"].error


def test_records_round_trip_through_json() -> None:
    result = score_baselines(sunspots(), "mae", 0)
    result = Baselines(result.scores, {"tfidf_ridge": "a reason"})
    record = json.loads(json.dumps(result.to_record()))
    assert set(record["scores"][0]["errors"]["dev"]) == {"error", "n", "se"}
    assert Baselines.from_record(record) == result


def test_best_is_the_lowest_error_on_the_split() -> None:
    def score(name: str, dev: float) -> BaselineScore:
        return BaselineScore(name, "trivial", name, {"dev": SplitError("dev", dev, 10, 0.1)}, 0.0)

    result = Baselines([score("mean", 2.0), score("last_value", 1.0), score("ridge", 1.5)], {})
    best = result.best("dev")
    assert best is not None and best.name == "last_value"
    assert result.best("test") is None
    assert Baselines([], {}).best() is None


def test_regression_needs_a_regression_metric() -> None:
    with pytest.raises(ValueError, match="mae"):
        score_baselines(sunspots(), ERROR_RATE, 0)


def test_scikit_learn_is_imported_only_when_a_baseline_is_scored() -> None:
    tree = ast.parse(Path(baselines.__file__).read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
    assert not top & {"sklearn", "tensorflow", "keras"}
