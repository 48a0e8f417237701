"""The best-model folder and its record, ``best.json``: the one module that writes and reads it.

The folder (``export.dir`` or ``best_model/<name>``) holds ``model.keras`` (preprocessing
included: normalization statistics, vocabulary) and ``best.json`` (hyperparameters, metrics,
label names, and after the search's end its test scores, diagnosis and error analysis), so a
model can be used without autodl. ``export/`` and ``plots/`` are written there by later stages.

Several processes may search one spec in one folder at once, and any of them may be killed at
any moment. So the folder is never written in place: each update builds a new version in a
private staging folder beside it, under the folder's lock, and swaps it in whole: in one atomic
exchange of the two folders where the system can (Linux), else in two renames that a later
process repairs if it was killed between them. At every moment the files on disk belong to one
trial, and a process killed while staging leaves the previous complete folder.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

import optuna
from optuna.trial import FrozenTrial

from autodl.data import DataFor, Dataset
from autodl.errors import AutodlError, OutputError, first_line
from autodl.outcome import Config, TrialOutcome
from autodl.runtime.log import logger
from autodl.runtime.processes import alive
from autodl.runtime.stores import file_lock
from autodl.search.loop import POLL_S
from autodl.search.study import best_trial, local_pid
from autodl.spec import Spec

MODEL_FILE = "model.keras"
INFO_FILE = "best.json"
EXPORT_FOLDER = "export"
"""The deployable export's folder inside the best-model folder (written by ``export``)."""


class BestRecord(TypedDict, total=False):
    """``best.json``: what a search knows of its best trial."""

    name: str
    trial: int
    objective: dict[str, Any]
    hyperparameters: dict[str, Any]
    config: Config
    seed: int | None
    metrics: dict[str, float]
    epochs: int | None
    params_count: int | None
    task: str
    class_names: list[str]
    data: dict[str, Any]
    history: dict[str, list[float]]
    diagnosis: dict[str, Any]
    baselines: dict[str, Any]
    learning_curve: dict[str, Any]
    error_analysis: dict[str, Any]


def best_dir(spec: Spec) -> Path:
    """Where the best model goes: ``export.dir`` or ``best_model/<name>``."""
    return Path(spec.export.dir) if spec.export.dir else Path("best_model") / spec.name


def data_record(spec: Spec, data: Dataset) -> dict[str, Any]:
    """What the record and the export manifest say of the data: source, location, split sizes."""
    return {"source": data.name, "location": spec.data.source, "sizes": data.sizes()}


def record_of(spec: Spec, data: Dataset, trial: FrozenTrial, metrics: dict[str, float]) -> BestRecord:
    """The record of a best trial, from what the study stored of it; a cross-validated trial's
    value is its folds' mean held-out score (``objective.cv_folds`` says over how many)."""
    return {
        "name": spec.name,
        "trial": trial.number,
        "objective": {
            "metric": spec.search.objective.metric,
            "direction": spec.search.objective.resolved_direction,
            "value": trial.value,
            **({"cv_folds": spec.search.cv.folds} if spec.search.cv else {}),
        },
        "hyperparameters": trial.user_attrs["params"],
        "config": trial.user_attrs["config"],
        "seed": trial.user_attrs.get("seed"),
        "metrics": metrics,
        "epochs": trial.user_attrs.get("epochs"),
        "params_count": trial.user_attrs.get("params_count"),
        "task": data.task,
        "class_names": list(data.class_names),
        "data": data_record(spec, data),
    }


def write_json(path: Path, document: Any) -> None:
    """``document`` as indented JSON (values JSON does not know written as text), written whole
    or not at all (a temporary file renamed over it)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(partial, path)


def lock_file(folder: Path) -> Path:
    """The file the best-model folder's lock is taken on, beside the folder."""
    return folder.parent / f".{folder.name}.lock"


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """The lock every process holds while it reads the best-model folder to replace it; a write
    that fails meanwhile is an ``OutputError`` (see ``writing``)."""
    with writing(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(lock_file(folder)):
            yield


FULL_DISK = (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def writing(folder: Path) -> Iterator[None]:
    """Turn a failed write under the best-model folder (a full disk, a read-only or unwritable
    folder, a file where a folder should be) into one ``OutputError`` that names the folder and
    says what to fix. The study is untouched by such a failure, so the same command resumes.
    An error naming a file elsewhere (a data file) passes as it is."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None and not _inside(Path(os.fsdecode(exc.filename)), folder.parent):
            raise
        fix = "Free some disk space there" if exc.errno in FULL_DISK else "Make it writable"
        raise OutputError(
            f"Cannot write the best-model folder {folder}: {exc.strerror or first_line(exc)}"
            f"{f' ({exc.filename})' if exc.filename else ''}. {fix}, or set export.dir to a folder "
            "that is; the study keeps every finished trial, so the same command resumes the search."
        ) from None


def _inside(path: Path, folder: Path) -> bool:
    return path.absolute().is_relative_to(folder.absolute())


def check_writable(folder: Path) -> None:
    """Fail before any training when the best-model folder cannot be written: create its parent
    and its lock file, and write and remove a small probe file there."""
    with writing(folder):
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock_file(folder).touch()
        probe = folder.parent / f".{folder.name}.probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"autodl")
        probe.unlink()


def _owned(name: str, folder: Path, kind: str) -> int | None:
    """The process id in a staging (``stage``) or replaced (``old``) folder's name, or ``None``."""
    prefix = f".{folder.name}.{kind}-"
    if not name.startswith(prefix):
        return None
    pid = name.removeprefix(prefix).split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def recover_folder(folder: Path) -> None:
    """Undo what a killed process left beside the folder: put back a folder it had moved aside
    but not yet replaced (the two-rename swap), and remove its staging folders (after an exchange
    one holds the previous version). Call it holding ``folder_lock``."""
    parent = folder.parent
    if not parent.is_dir():
        return
    for item in sorted(parent.iterdir()):
        for kind in ("old", "stage"):
            pid = _owned(item.name, folder, kind)
            if pid is None or (pid != os.getpid() and alive(pid)):
                continue
            if kind == "old" and not folder.exists():
                os.rename(item, folder)
                logger.warning("put back %s, which a killed process had moved aside", folder)
            else:
                shutil.rmtree(item, ignore_errors=True)


def candidate_dir(folder: Path) -> Path:
    """Where a search keeps its best model so far (model and record) until its end makes a complete
    new best-model folder of it: the folder itself stays the last complete one meanwhile."""
    return folder.parent / f".{folder.name}.candidate"


AT_FDCWD = -100
RENAME_EXCHANGE = 2
UNSUPPORTED = (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP)
"""What ``renameat2`` answers where the kernel or the file system cannot exchange two paths."""


@lru_cache(maxsize=1)
def _renameat2() -> Callable[..., int] | None:
    """The C library's ``renameat2``, or ``None`` off Linux or in a C library without it."""
    if not sys.platform.startswith("linux"):
        return None
    call = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if call is None:
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one atomic step (``renameat2`` with ``RENAME_EXCHANGE``), so that
    no moment finds either missing; ``False``, with nothing changed, where the system or the file
    system cannot. Another failure is an ``OSError`` naming both paths."""
    call = _renameat2()
    if call is None:
        return False
    if call(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(first), None, str(second))


def _swap_in(stage: Path, folder: Path, token: str) -> None:
    """Make ``stage`` the folder: exchanged with the current one (then removed, as it holds the
    previous version), or where that cannot be done, the current one moved aside first."""
    if folder.exists() and exchange(stage, folder):
        shutil.rmtree(stage, ignore_errors=True)
        return
    old = folder.parent / f".{folder.name}.old-{token}"
    if folder.exists():
        os.rename(folder, old)
    os.rename(stage, folder)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def updating(folder: Path, keep: tuple[str, ...] = (), source: Path | None = None) -> Iterator[Path]:
    """A private staging folder for the next version of ``folder``, swapped in whole when the block
    ends without an error (dropped otherwise). ``keep`` names the entries of ``source`` (default:
    the current folder) copied into it first. Call it holding ``folder_lock``."""
    recover_folder(folder)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stage = folder.parent / f".{folder.name}.stage-{token}"
    stage.mkdir(parents=True)
    try:
        for name in keep:
            entry = (source or folder) / name
            if entry.is_dir():
                shutil.copytree(entry, stage / name)
            elif entry.is_file():
                shutil.copy2(entry, stage / name)
        yield stage
        _swap_in(stage, folder, token)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


SAVE_WAIT_S = 120.0
"""How long after another process finished the best trial its model may still be on its way to
the candidate folder (it is saved after the study is told, under the folder's lock)."""


@contextmanager
def best_with_model(folder: Path, study: optuna.Study) -> Iterator[tuple[FrozenTrial | None, Path]]:
    """Hold the folder's lock with the study's best trial and the folder holding its model: the
    candidate, else the best-model folder itself (which may then hold none: removed meanwhile, or
    trained on another machine).

    A process saves its new best trial's model after telling the study, so when another live
    process of this machine finished the best trial less than ``SAVE_WAIT_S`` ago and neither
    folder holds its model yet, the lock is let go until one does."""
    told = False
    while True:
        with folder_lock(folder):
            best = best_trial(study)
            saved = next((f for f in (candidate_dir(folder), folder)
                          if best is not None and saved_model(f, best.number) is not None), None)
            if saved is not None or best is None or not _saving_elsewhere(best):
                yield best, saved or folder
                return
        if not told:
            logger.info("waiting for the process that ran trial %d, the best, to save its model", best.number)
            told = True
        time.sleep(POLL_S)


def _saving_elsewhere(best: FrozenTrial) -> bool:
    """Whether another live process of this machine finished ``best`` less than ``SAVE_WAIT_S`` ago."""
    pid = local_pid(best)
    if pid is None or pid == os.getpid() or not alive(pid) or best.datetime_complete is None:
        return False
    return (datetime.now() - best.datetime_complete).total_seconds() < SAVE_WAIT_S


def write_record(folder: Path, record: BestRecord) -> None:
    """Write ``best.json`` into ``folder``."""
    write_json(folder / INFO_FILE, record)


def read_record(folder: Path) -> BestRecord | None:
    """The ``best.json`` in ``folder``, or ``None`` when there is none."""
    path = folder / INFO_FILE
    if not path.is_file():
        return None
    try:
        found: BestRecord = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AutodlError(f"{path} is not valid JSON ({exc}); run the search again to rewrite it.") from None
    return found


def saved_model(folder: Path, trial: int) -> tuple[BestRecord, Path] | None:
    """The record and ``model.keras`` of trial ``trial`` when the folder holds that trial's model;
    ``None`` when it holds another trial's, or none."""
    record = read_record(folder)
    path = folder / MODEL_FILE
    if record is None or record.get("trial") != trial or not path.is_file():
        return None
    return record, path


class BestModelSaver:
    """Called on each new best trial: replaces the search's candidate (``candidate_dir``), the
    trial's model and record as one folder."""

    def __init__(self, spec: Spec, data_for: DataFor, directory: Path) -> None:
        self.spec = spec
        self.data_for = data_for
        self.directory = directory

    def __call__(self, trial: FrozenTrial, outcome: TrialOutcome) -> None:
        """Write the candidate folder of this trial and swap it in. Call it holding the best-model
        folder's ``folder_lock``."""
        data = self.data_for(trial.user_attrs["config"])
        record = record_of(self.spec, data, trial, outcome.metrics)
        record["history"] = outcome.history
        with updating(candidate_dir(self.directory)) as stage:
            outcome.model.save(stage / MODEL_FILE)
            write_record(stage, record)
