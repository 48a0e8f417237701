"""Scaling: how autodl's cost grows with the study and with the data.

(a) The search machinery alone: trials that train a tiny model for one step, timed at trial 10,
100 and 1000 of one study, on SQLite and on PostgreSQL. The earlier trials of the larger studies
are stored directly (as autodl records them: parameters, epoch values, state, metrics), so only
the measured trials train; a ratio near 1 means a growing study does not slow every trial.

(b) Epoch time against training-set size: the 8x8 digits repeated with augmentation (a random
shift of up to one pixel and pixel noise) to 1k, 10k and 100k rows, written as a CSV table, then
one autodl trial of a fixed MLP read in memory and streamed, against a bare ``model.fit`` of the
same model on a ``tf.data`` pipeline with cache and prefetch, all in this process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import SPECS, Figure, inside, parser, ratio, report, scratch, search_trials

if TYPE_CHECKING:
    import numpy as np

    from autodl.spec import Spec

STUDY_SIZES = (10, 100, 1000)
MEASURED = 10
"""Trials timed at each study size."""
ROWS = (1_000, 10_000, 100_000)
EPOCHS = 3
POSTGRES_URL = os.environ.get("AUTODL_BENCH_POSTGRES", "postgresql://root@127.0.0.1:5432/test")
TINY = SPECS / "digits_mlp_memory.yaml"


def stored_trials(spec: Spec, count: int) -> list[Any]:
    """``count`` finished trials as autodl stores them, sampled from ``spec``'s space, without
    training: each a complete trial of one epoch with its configuration and metrics."""
    import optuna

    from autodl.search.samplers import make_sampler
    from autodl.search.sampling import sample_config

    study = optuna.create_study(sampler=make_sampler(spec), direction="maximize")
    for number in range(count):
        trial = study.ask()
        sample = sample_config(spec, trial)
        value = 0.5 + 0.4 * ((number * 7919) % 100) / 100
        trial.report(value, 1)
        for key, attr in {"seed": number, "config": sample.config, "params": sample.params, "state": "complete",
                          "epochs": 1, "duration_s": 0.3, "params_count": 1000,
                          "metrics": {"dev_accuracy": value, "train_accuracy": value}}.items():
            trial.set_user_attr(key, attr)
        study.tell(trial, value)
    return study.get_trials(deepcopy=False)


def per_trial_s(spec: Spec, prefill: int) -> float:
    """Seconds per trial over ``MEASURED`` trials run after ``prefill`` stored ones: from the
    first measured trial's start to the last one's end, so that claiming, recording and the
    storage's queries between trials count."""
    import optuna

    from autodl.runtime.stores import study_storage
    from autodl.search.study import open_study

    storage = study_storage(spec)
    open_study(spec, storage).add_trials(stored_trials(spec, prefill))
    trials = [t for t in search_trials(spec.with_overrides(**{"search.trials": prefill + MEASURED}))
              if t.number >= prefill and t.datetime_complete is not None]
    if len(trials) != MEASURED:
        raise RuntimeError(f"expected {MEASURED} measured trials after {prefill}, got {len(trials)}")
    spent = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
    if storage.startswith("postgresql"):
        optuna.delete_study(study_name=spec.name, storage=storage)
    return spent.total_seconds() / MEASURED


def postgres_reachable() -> bool:
    """Whether the benchmark's PostgreSQL database answers."""
    import sqlalchemy

    try:
        with sqlalchemy.create_engine(POSTGRES_URL).connect():
            return True
    except sqlalchemy.exc.OperationalError:
        return False


def study_figures(sizes: Sequence[int], postgres: bool) -> tuple[list[Figure], dict[str, Any]]:
    """(a): seconds per trial at each study size, per storage, and each over the smallest."""
    from autodl.spec import load_spec

    base = load_spec(TINY).with_overrides(**{"training.batch_size": 2048, "training.epochs": 1})
    storages: dict[str, str | None] = {"sqlite": None}
    figures, details = [], {}
    if postgres and postgres_reachable():
        storages["postgresql"] = POSTGRES_URL
    elif postgres:
        figures.append(Figure("scaling.postgresql.skipped", 1.0, "bool", f"no PostgreSQL answers at {POSTGRES_URL}"))
    for kind, url in storages.items():
        seconds = {}
        with scratch(f"scaling-{kind}") as folder, inside(folder):
            for size in sizes:
                changes: dict[str, Any] = {"name": f"bench-scaling-{kind}-{size}-{os.getpid()}"}
                if url:
                    changes["search.storage"] = url
                seconds[size] = per_trial_s(base.with_overrides(**changes), size - MEASURED)
        details[kind] = seconds
        smallest = sizes[0]
        for size in sizes:
            label = "baseline: " if size == smallest else ""
            measured = f"trials {size - MEASURED}-{size - 1}"
            figures.append(Figure(f"scaling.{kind}.trial_s_{size}", seconds[size], "s",
                                  f"{label}seconds per one-step trial, {measured} of a study"))
        for size in sizes[1:]:
            figures.append(Figure(f"scaling.{kind}.ratio_{size}", ratio(seconds[size], seconds[smallest]), "x",
                                  f"per-trial time at trial {size} / at trial {smallest}"))
    return figures, details


def augmented_digits(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` 8x8 digits drawn from scikit-learn's 1,797, each shifted by up to one pixel and
    given pixel noise, flattened to 64 values in [0, 16]."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    pick = rng.integers(len(digits.images), size=rows)
    images = digits.images[pick]
    shifts = rng.integers(-1, 2, size=(rows, 2))
    shifted = np.stack([np.roll(image, tuple(shift), axis=(0, 1)) for image, shift in zip(images, shifts, strict=True)])
    noisy = np.clip(shifted + rng.normal(0, 1.0, size=shifted.shape), 0, 16)
    return noisy.reshape(rows, 64).astype("float32"), digits.target[pick]


def write_table(path: Path, features: np.ndarray, labels: np.ndarray) -> None:
    """The rows as a CSV table: columns p0..p63 and label."""
    import pandas as pd

    frame = pd.DataFrame(features, columns=[f"p{i}" for i in range(features.shape[1])]).round(2)
    frame["label"] = labels
    frame.to_csv(path, index=False)


def table_spec(path: Path, stream: bool) -> Spec:
    """One fixed MLP trial of ``EPOCHS`` epochs on the table, in memory or streamed."""
    from autodl.spec import Spec

    return Spec.model_validate({
        "name": f"bench-scaling-{path.stem}-{'stream' if stream else 'memory'}",
        "seed": 0,
        "data": {"source": str(path), "label": "label", "stream": stream,
                 "split": {"train": 0.8, "train_dev": 0.05, "dev": 0.1, "test": 0.05}},
        "model": {"family": "mlp", "layers": 2, "units": 64},
        "optimizer": {"name": "adam", "learning_rate": 1e-3},
        "training": {"epochs": EPOCHS, "batch_size": 128},
        "search": {"trials": 1, "pruner": {"name": "none"}},
        "diagnostics": {"baselines": False},
        "tracking": {"uri": "sqlite:///mlruns/mlflow.db"},
    })


def bare_fit_s(features: np.ndarray, labels: np.ndarray) -> float:
    """A bare ``model.fit`` of the same MLP for ``EPOCHS`` epochs on 80% of the rows with 10% as
    validation data (autodl, too, scores dev after every epoch, for pruning), both through
    ``tf.data`` with cache and prefetch: seconds spent in ``fit``."""
    import tensorflow as tf

    keras = tf.keras
    train, dev = int(len(features) * 0.8), int(len(features) * 0.9)
    mean, std = features[:train].mean(axis=0), features[:train].std(axis=0) + 1e-6
    scaled = (features - mean) / std

    def pipeline(rows: slice, shuffle: bool) -> tf.data.Dataset:
        data = tf.data.Dataset.from_tensor_slices((scaled[rows], labels[rows])).cache()
        if shuffle:
            data = data.shuffle(train, seed=0)
        return data.batch(128).prefetch(tf.data.AUTOTUNE)

    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(pipeline(slice(0, train), True), validation_data=pipeline(slice(train, dev), False),
              epochs=EPOCHS, verbose=0)
    seconds = time.perf_counter() - start
    keras.backend.clear_session()
    return seconds


def data_figures(rows: Sequence[int]) -> tuple[list[Figure], dict[str, Any]]:
    """(b): autodl's fit time in memory and streamed over the bare loop's, per table size."""
    figures, details = [], {}
    with scratch("scaling-data") as folder, inside(folder):
        for count in rows:
            features, labels = augmented_digits(count)
            table = folder / f"digits{count}.csv"
            write_table(table, features, labels)
            bare = bare_fit_s(features, labels)
            timed = {"bare": bare}
            for mode, stream in (("memory", False), ("stream", True)):
                trials = search_trials(table_spec(table, stream))
                timed[mode] = float(trials[0].user_attrs["metrics"]["train_time_s"])
            details[count] = timed
            figures += [
                Figure(f"scaling.rows_{count}.bare_fit_s", bare, "s",
                       f"baseline: bare model.fit (tf.data, cache, prefetch), {EPOCHS} epochs, {count * 8 // 10} rows"),
                Figure(f"scaling.rows_{count}.memory_ratio", ratio(timed["memory"], bare), "x",
                       "autodl fit in memory / bare"),
                Figure(f"scaling.rows_{count}.stream_ratio", ratio(timed["stream"], bare), "x",
                       "autodl fit streamed from the CSV / bare"),
            ]
    return figures, details


def main(argv: Sequence[str] | None = None) -> None:
    """Run (a) and (b) (``--quick``: study sizes 10 and 20 on SQLite, tables of 1k rows)."""
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    sizes = (MEASURED, 2 * MEASURED) if args.quick else STUDY_SIZES
    study, study_details = study_figures(sizes, postgres=not args.quick)
    data, data_details = data_figures(ROWS[:1] if args.quick else ROWS)
    report("scaling", study + data, {"study": study_details, "data": data_details}, args.out, args.quick)


if __name__ == "__main__":
    main()
