"""Plain helpers the test files share: paths and spec builders, fake objectives and the studies they
fill, files written on disk, tiny datasets and models. Fixtures live in ``conftest.py``.

Nothing here loads TensorFlow or Keras at import time: the model helpers load Keras when called.
"""

from __future__ import annotations

import json
import math
import socket
import textwrap
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import yaml

from autodl import models
from autodl.data.dataset import SPLITS, Dataset, Split
from autodl.outcome import EpochListener, PruneCheck, TrialOutcome
from autodl.results.diagnosis import diagnose
from autodl.results.uncertainty import ERROR_RATE, from_rate
from autodl.runtime.backend import load_keras
from autodl.runtime.stores import study_lock
from autodl.search.loop import Objective, optimize
from autodl.search.study import best_trial, open_study
from autodl.spec.document import Spec, load_spec
from autodl.spec.sections import MODEL_SPECS, OptimizerSpec
from autodl.trial.compile import loss_and_metrics, make_optimizer

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SENTENCES = SHARED_DATA / "sentiment_labelled_sentences"


def mlflow_store() -> str:
    """This folder's MLflow store as an absolute URI (MLflow caches stores by URI string)."""
    return f"sqlite:///{Path.cwd().resolve()}/mlruns/mlflow.db"


def minimal_spec(**overrides: object) -> dict:
    """A small valid spec on the digits set; keyword arguments replace top-level sections."""
    spec: dict = {
        "name": "tiny",
        "seed": 0,
        "data": {"source": "digits"},
        "model": {"family": "cnn"},
    }
    spec.update(overrides)
    return spec


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- files on disk ------------------------------------------------------------------------------


def open_local(request: str | urllib.request.Request, timeout: float) -> Any:
    """``urlopen`` for a server on this machine, never through a proxy: CI's environment may name a
    proxy without exempting 127.0.0.1, and the tests' own network guard points at a dead one."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=timeout)


def write_lines(path: Path, *lines: str) -> Path:
    """Write ``lines`` (newline-terminated) to ``path``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` as it is; return the path."""
    path.write_text(text)
    return path


COLOURS = {"cat": (255, 0, 0), "dog": (0, 255, 0), "fox": (0, 0, 255)}


def write_image(
    path: Path, size: tuple[int, int] = (4, 6), colour: tuple[int, int, int] = (10, 20, 30)
) -> Path:
    """Save a solid ``colour`` image of ``size`` (height, width) at ``path``, making its folder."""
    import PIL.Image

    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = size
    PIL.Image.new("RGB", (width, height), colour).save(path)
    return path


def digits_folder(root: Path, per_class: int | None = None) -> Path:
    """The scikit-learn digits as 8x8 grayscale PNGs, one subfolder per digit."""
    import PIL.Image
    from sklearn.datasets import load_digits

    bunch = load_digits()
    counts: dict[int, int] = {}
    for image, label in zip(bunch.images, bunch.target, strict=True):
        counts[label] = counts.get(label, 0) + 1
        if per_class is not None and counts[label] > per_class:
            continue
        path = root / f"digit_{label}" / f"{counts[label]:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        PIL.Image.fromarray((image * 16).clip(0, 255).astype("uint8"), mode="L").save(path)
    return root


def digits_csv(path: Path, rows: int | None = None) -> Path:
    """The digits as a CSV table: 64 pixel columns and a label column."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x, y = bunch.data[:rows], bunch.target[:rows]
    header = ",".join([*(f"p{i}" for i in range(64)), "label"])
    lines = [",".join([*(f"{v:g}" for v in row), f"d{label}"]) for row, label in zip(x, y, strict=True)]
    path.write_text("\n".join([header, *lines]) + "\n")
    return path


def diabetes_csv(path: Path) -> Path:
    """scikit-learn's diabetes data as a CSV: 10 feature columns and a whole-number ``label``
    (disease progression, 25..346: 214 distinct values in 442 rows)."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame.rename(columns={"target": "label"})
    frame["label"] = frame["label"].astype(int)
    frame.to_csv(path, index=False)
    return path


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """The scikit-learn digits as (n, 8, 8, 1) float32 images and their labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images[..., np.newaxis].astype("float32"), bunch.target


def load_sentences() -> tuple[np.ndarray, np.ndarray]:
    """The 3,000 labelled review sentences (text, 0/1 label)."""
    texts, labels = [], []
    for file in sorted(SENTENCES.glob("*_labelled.txt")):
        for line in file.read_text(encoding="utf-8").splitlines():
            text, _, label = line.rpartition("\t")
            texts.append(text.strip())
            labels.append(int(label))
    return np.array(texts, dtype=object), np.array(labels)


def write_module(folder: Path, name: str, body: str) -> None:
    """Write the Python module ``name`` (``body`` dedented) into ``folder``."""
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


# --- the search loop with fake objectives --------------------------------------------------------

CNN_SPACE = {
    "family": "cnn",
    "blocks": {"int": [1, 3]},
    "filters": {"choice": [16, 32, 64]},
    "dropout": {"float": [0.0, 0.5]},
}


def make_spec(write_spec: Callable[..., Path], **search_opts: Any) -> Spec:
    """A CNN space of 6 epochs and 6 trials, tracking off; ``search_opts`` go into ``search``."""
    return load_spec(
        write_spec(
            minimal_spec(
                model=CNN_SPACE,
                training={"epochs": 6},
                search={"trials": 6, **search_opts},
                tracking={"enabled": False},
            )
        )
    )


class Recorder:
    """An observer that records what the loop tells it."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.finished: list[tuple[int, str]] = []
        self.epochs: list[tuple[int, int]] = []

    def trial_started(
        self, number: int, params: dict[str, Any], seed: int, tags: dict[str, str]
    ) -> EpochListener:
        self.started.append(number)
        return lambda epoch, metrics: self.epochs.append((number, epoch))

    def trial_attributes(self, number: int) -> dict[str, Any]:
        return {"recorded_by": "Recorder"}

    def trial_finished(self, number: int, outcome: TrialOutcome) -> None:
        self.finished.append((number, outcome.state))


def curve_objective(score: Callable[[dict[str, Any]], float]) -> Objective:
    """A fake trainer: dev accuracy climbs towards ``score(config)`` over the epochs."""

    def objective(
        config: dict[str, dict[str, Any]],
        seed: int,
        should_prune: PruneCheck,
        listeners: list[EpochListener],
        suggest: Any,
    ) -> TrialOutcome:
        target = score(config)
        history: list[float] = []
        for epoch in range(1, config["training"]["epochs"] + 1):
            value = target * (1 - 0.5 ** epoch)
            history.append(value)
            for listener in listeners:
                listener(epoch, {"dev_accuracy": value})
            if should_prune(epoch, value):
                return TrialOutcome("pruned", value=value, epochs=epoch, pruned_epoch=epoch,
                                    history={"dev_accuracy": history})
        return TrialOutcome("complete", value=history[-1], epochs=len(history),
                            metrics={"dev_accuracy": history[-1]})

    return objective


def by_filters(config: dict[str, Any]) -> float:
    return config["model"]["filters"] / 64


def new_study(spec: Spec, tmp_path: Path) -> optuna.Study:
    return open_study(spec, f"sqlite:///{tmp_path / 'study.db'}")


SMALL_GRID = {
    "family": "cnn",
    "blocks": {"int": [1, 2]},
    "filters": {"choice": [16, 32]},
}


def worker_process(spec_path: str, storage: str, delay: float) -> None:
    """One worker process sharing the study, with a slow fake objective."""
    spec = load_spec(Path(spec_path))
    study = open_study(spec, storage)
    base = curve_objective(by_filters)

    def slow(config: dict[str, Any], seed: int, should_prune: PruneCheck,
             listeners: list[EpochListener], suggest: Any) -> TrialOutcome:
        time.sleep(delay)
        return base(config, seed, should_prune, listeners, suggest)

    optimize(spec, study, slow, [], lambda t, o: None,
                    lock=lambda: study_lock(storage, spec.name))


def c2f_spec(write_spec: Callable[..., Path], **search_opts: object) -> Spec:
    """A coarse-to-fine search of 24 trials in 3 stages over filters, dropout and learning rate."""
    return load_spec(write_spec(minimal_spec(
        model={"family": "cnn", "filters": {"choice": [8, 16, 32, 64]}, "dropout": {"float": [0.0, 0.8]}},
        optimizer={"learning_rate": {"float": [1e-5, 1e-1], "scale": "log"}},
        training={"epochs": 3},
        search={"strategy": "coarse_to_fine", "trials": 24, "stages": 3, "keep": 0.25,
                "pruner": {"name": "none"}, **search_opts},
        tracking={"enabled": False},
    )))


# --- a study for `autodl report`, filled by the real loop with a fake objective ------------------

REPORT_SPACE = {
    "model": {"family": "cnn", "blocks": {"int": [1, 3]}, "filters": {"choice": [16, 32, 64]},
              "dropout": {"float": [0.0, 0.5]}},
    "optimizer": {"learning_rate": {"float": [1.0e-4, 1.0e-1], "scale": "log"},
                  "beta_1": {"float": [0.9, 0.999], "scale": "inv_log"}},
    "training": {"epochs": 4},
}


def report_spec_data(**search_opts: Any) -> dict[str, Any]:
    """The spec (as a dict) of the study ``fake``: 12 trials, no pruner, tracking off."""
    return minimal_spec(name="fake", **REPORT_SPACE, tracking={"enabled": False},
                        search={"trials": 12, "pruner": {"name": "none"}, **search_opts})


def make_report_spec(write_spec: Callable[..., Path], **search_opts: Any) -> Spec:
    return load_spec(write_spec(report_spec_data(**search_opts)))


def report_objective(config: dict[str, dict[str, Any]], seed: int, should_prune: Any, listeners: Any,
                     suggest: Any) -> TrialOutcome:
    """Dev accuracy peaks at a learning rate of 3e-3; 64 filters break the params limit; three
    blocks with dropout above 0.45 fail; trials below 0.75 after two epochs are pruned."""
    rate = config["optimizer"]["learning_rate"]
    if config["model"]["blocks"] == 3 and config["model"]["dropout"] > 0.45:
        raise RuntimeError("loss became nan")
    target = 0.95 - 0.15 * abs(math.log10(rate) - math.log10(3e-3)) + config["model"]["dropout"] / 100
    for epoch in range(1, 5):
        value = target * (1 - 0.3 ** epoch)
        should_prune(epoch, value)
        if epoch == 2 and value < 0.75:
            return TrialOutcome("pruned", value=value, epochs=epoch, pruned_epoch=epoch)
    filters = config["model"]["filters"]
    return TrialOutcome("complete", value=value, epochs=4,
                        metrics={"dev_accuracy": value, "params": filters * 50.0})


def searched(spec: Spec, tmp_path: Path) -> optuna.Study:
    """The study a search of ``spec`` with the fake objective leaves behind."""
    study = open_study(spec, f"sqlite:///{tmp_path / 'optuna.db'}")
    optimize(spec, study, report_objective, [], lambda trial, outcome: None)
    return study


@dataclass(frozen=True)
class Searched:
    """A spec file, its spec, and the study its fake search left in ``storage``."""

    path: Path
    spec: Spec
    study: optuna.Study
    storage: str


def search_once(folder: Path, **search_opts: Any) -> Searched:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(report_spec_data(**search_opts), sort_keys=False))
    spec = load_spec(path)
    study = searched(spec, folder)
    return Searched(path, spec, study, f"sqlite:///{folder / 'optuna.db'}")


def write_best_json(folder: Path, study: optuna.Study, spec: Spec) -> dict[str, Any]:
    """A best.json as the end of a search writes it, with a data-mismatch diagnosis."""
    best = best_trial(study)
    errors = {name: from_rate(name, error, 300)
              for name, error in {"train": 0.005, "train_dev": 0.01, "dev": 0.12, "test": 0.13}.items()}
    diagnosis = diagnose(ERROR_RATE, errors, human=0.0, origin="by_file")
    record = {"name": spec.name, "trial": best.number, "objective": {"metric": "dev_accuracy"},
              "metrics": {"dev_accuracy": best.value}, "diagnosis": diagnosis.to_record()}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "best.json").write_text(json.dumps(record))
    return record


# --- tiny in-memory datasets and the models built on them ----------------------------------------

SMALL: dict[str, dict[str, Any]] = {
    "cnn": {"filters": 4, "dense_units": 8},
    "rnn": {"vocab_size": 50, "sequence_length": 6, "embedding_dim": 4, "units": 4},
    "mlp": {"units": 8},
    "transfer": {"image_size": 32, "weights": "none"},
}
WORDS = ["good", "bad", "movie", "film", "plot", "great", "awful", "acting", "fine", "story"]
CLASS_NAMES = {"binary": ("0", "1"), "multiclass": ("a", "b", "c"), "regression": ()}


def family_cfg(family: str, **changes: Any) -> dict[str, Any]:
    """Every field of the family's spec: its defaults, shrunk by ``SMALL``, then ``changes``."""
    cfg = {name: value for name, value in MODEL_SPECS[family](family=family)}
    unknown = set(changes) - set(cfg)
    assert not unknown, f"not fields of {family}: {unknown}"
    cfg.update(SMALL[family])
    cfg.update(changes)
    return cfg


def optimizer_cfg(**changes: Any) -> dict[str, Any]:
    """Every field of the optimizer section, with a fixed learning rate."""
    base = {name: value for name, value in OptimizerSpec(learning_rate=0.01)}
    base.update(changes)
    return base


def make_dataset(
    kind: str, task: str, n: int = 24, shape: tuple[int, ...] | None = None, seed: int = 0
) -> Dataset:
    """A tiny dataset of ``kind`` for ``task``; dev and train-dev hold the first 8 examples."""
    rng = np.random.default_rng(seed)
    if kind == "text":
        x = np.array(
            [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 8)))) for _ in range(n)],
            dtype=object,
        )
    else:
        default = {"image": (6, 6, 2), "sequence": (12, 3)}.get(kind, (5,))
        x = rng.normal(size=(n, *(shape or default))).astype("float32")
    return dataset_from(kind, task, x, _labels(task, n, rng))


def _labels(task: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Encoded targets for ``task``: classes cycle, regression targets are normal."""
    if task == "regression":
        return rng.normal(size=n).astype("float32")
    return np.arange(n) % len(CLASS_NAMES[task])


def dataset_from(kind: str, task: str, x: np.ndarray, y: np.ndarray, dev: int = 8) -> Dataset:
    """A Dataset of ``x``/``y``: all rows train; the first ``dev`` rows are every other split."""
    splits = {name: Split(x[:dev], y[:dev]) for name in SPLITS}
    splits["train"] = Split(x, y)
    return Dataset("tiny", kind, task, splits, CLASS_NAMES[task])


def compiled(cfg: dict[str, Any], data: Dataset) -> Any:
    """Build the model for ``cfg`` and compile it as a trial does, but eagerly.

    Tracing the training step of a stacked recurrent model costs seconds; graph-mode training
    of every family is covered once by ``test_run_trial_trains_every_family``.
    """
    model = models.build_model(cfg, data)
    loss, metrics = loss_and_metrics(data.task)
    model.compile(
        optimizer=make_optimizer(optimizer_cfg()), loss=loss, metrics=metrics,
        run_eagerly=True,
    )
    return model


def layers_of(model: Any, cls: type) -> list[Any]:
    """The model's layers of exactly class ``cls``."""
    return [layer for layer in model.layers if type(layer) is cls]


def trainable_count(model: Any) -> int:
    """Number of trainable parameters."""
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def fit_and_check_outputs(model: Any, data: Dataset) -> None:
    """Fit one epoch, then check the loss and the prediction shape and range for the task."""
    keras = load_keras()
    history = model.fit(data.train.x, data.train.y, epochs=1, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 1 and math.isfinite(history.history["loss"][0])
    pred = keras.ops.convert_to_numpy(model(data.train.x, training=False))
    n = len(data.train)
    if data.task == "binary":
        assert pred.shape == (n, 1)
        assert np.all((pred >= 0) & (pred <= 1))
    elif data.task == "multiclass":
        assert pred.shape == (n, data.num_classes)
        assert np.all(pred >= 0)
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-5)
    else:
        assert pred.shape == (n, 1)
        assert np.all(np.isfinite(pred))


def dead_pid() -> int:
    """The process id of a process of this machine that has ended (for trials and staging
    folders a killed process left behind)."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


ONE_TRIAL = """
import os, socket, sys, time
import optuna
study = optuna.load_study(study_name=sys.argv[1], storage=sys.argv[2])
trial = study.ask()
trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
time.sleep(float(sys.argv[3]))
if sys.argv[4] == "finish":
    study.tell(trial, 0.99)
"""


def trial_elsewhere(study: optuna.Study, storage: str, seconds: float, end: str) -> int:
    """The number of a trial that another process of this machine (a stand-in ``autodl worker``)
    runs for ``seconds``, then finishes (``end="finish"``, the study's best) or dies with (``"die"``,
    the process reaped at once, as a shell reaps its jobs); returned once the trial runs."""
    import subprocess
    import sys
    import threading

    process = subprocess.Popen([sys.executable, "-c", ONE_TRIAL, study.study_name, storage, str(seconds), end])
    threading.Thread(target=process.wait, daemon=True).start()
    deadline = time.monotonic() + 60
    while not (running := study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))):
        assert time.monotonic() < deadline, "the other process did not start its trial"
        time.sleep(0.1)
    return running[0].number
