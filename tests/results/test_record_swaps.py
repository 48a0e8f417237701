"""Replacing the best-model folder while other processes use it: several processes replacing it at
once never leave a mix of versions on disk; no moment of a swap finds it missing (an atomic
exchange, two renames where the file system has none); the search's end waits for a best model
another process is still saving. No model is trained: each "version" is a few small files tagged
with who wrote it."""

from __future__ import annotations

import ctypes
import errno
import json
import multiprocessing
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from autodl.results import record
from autodl.results.record import folder_lock, updating, write_json
from tests.helpers import dead_pid, make_spec, new_study

ENTRIES = ("model.keras", "best.json", "diagnosis.md", "export/export.json")
WRITERS = 3
UPDATES = 12


def write_version(folder: Path, tag: str) -> None:
    """One complete version of the best-model folder, every file naming ``tag``."""
    (folder / "export").mkdir(exist_ok=True)
    (folder / "model.keras").write_text(f"model {tag}")
    write_json(folder / "best.json", {"trial": tag})
    (folder / "diagnosis.md").write_text(f"diagnosis {tag}")
    (folder / "export" / "export.json").write_text(json.dumps({"trial": tag}))


def tags_in(folder: Path) -> set[str] | None:
    """The tags of the four files of one directory (read through one open handle on it, so a
    rename of the folder meanwhile cannot mix two directories), or ``None`` when the folder or a
    file of it is not there at this moment."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None
    try:
        texts = []
        for entry in ENTRIES:
            with open(entry, opener=lambda path, flags: os.open(path, flags, dir_fd=fd)) as handle:
                texts.append(handle.read())
    except FileNotFoundError:  # removed after the swap, while being read: nothing to compare
        return None
    finally:
        os.close(fd)
    model, best, diagnosis, export = texts
    return {model.removeprefix("model "), json.loads(best)["trial"], diagnosis.removeprefix("diagnosis "),
            json.loads(export)["trial"]}


def writer(folder: str, index: int) -> None:
    for update in range(UPDATES):
        with folder_lock(Path(folder)), updating(Path(folder)) as stage:
            write_version(stage, f"{index}-{update}")


def test_processes_replacing_the_folder_at_once_never_leave_a_mix_of_versions(tmp_path: Path) -> None:
    folder = tmp_path / "best_model" / "spec"
    with folder_lock(folder), updating(folder) as stage:
        write_version(stage, "first")
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=writer, args=(str(folder), i)) for i in range(WRITERS)]
    for process in processes:
        process.start()
    seen = 0
    while any(p.is_alive() for p in processes):
        tags = tags_in(folder)
        if tags is not None:
            seen += 1
            assert len(tags) == 1, f"files of several versions in one folder: {tags}"
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert seen > 0
    final = tags_in(folder)
    assert final is not None and len(final) == 1 and final.pop().endswith(f"-{UPDATES - 1}")
    assert sorted(p.name for p in folder.parent.iterdir()) == [".spec.lock", "spec"], "no staging left behind"


def test_no_moment_of_an_update_leaves_the_folder_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    if not record.exchange(tmp_path / "a", tmp_path / "b"):
        pytest.skip("this file system cannot exchange two folders atomically (renameat2)")
    folder = tmp_path / "best_model" / "spec"
    with folder_lock(folder), updating(folder) as stage:
        write_version(stage, "1")
    moments: list[set[str] | None] = []

    def observed(call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            done = call(*args, **kwargs)
            moments.append(tags_in(folder))
            return done
        return wrapped

    for module, name in ((os, "rename"), (os, "replace"), (record, "exchange")):
        monkeypatch.setattr(module, name, observed(getattr(module, name)))
    with folder_lock(folder), updating(folder) as stage:
        write_version(stage, "2")
    monkeypatch.undo()
    assert moments and moments[-1] == {"2"}, moments
    assert all(m in ({"1"}, {"2"}) for m in moments), f"the folder after each rename of the swap: {moments}"
    assert sorted(p.name for p in folder.parent.iterdir()) == [".spec.lock", "spec"]


def refusing_renameat2(*args: Any) -> int:
    """``renameat2`` as a file system without exchanges answers it."""
    ctypes.set_errno(errno.EINVAL)
    return -1


@pytest.mark.parametrize("renameat2", [None, refusing_renameat2], ids=["missing", "einval"])
def test_without_an_atomic_exchange_the_update_still_lands_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, renameat2: Callable[..., int] | None
) -> None:
    """Other systems (no ``renameat2``) and file systems (it answers EINVAL): two renames."""
    folder = tmp_path / "best_model" / "spec"
    with folder_lock(folder), updating(folder) as stage:
        write_version(stage, "1")
    monkeypatch.setattr(record, "_renameat2", lambda: renameat2)
    with folder_lock(folder), updating(folder) as stage:
        write_version(stage, "2")
    assert tags_in(folder) == {"2"}
    assert sorted(p.name for p in folder.parent.iterdir()) == [".spec.lock", "spec"]


def saved_trial(folder: Path, trial: int) -> None:
    """A model and record of ``trial`` in ``folder``, as ``BestModelSaver`` leaves them."""
    with updating(folder) as stage:
        (stage / "model.keras").write_text(f"model {trial}")
        write_json(stage / "best.json", {"trial": trial})


@pytest.mark.parametrize("owner", ["live", "dead"])
def test_the_end_waits_for_the_model_of_a_best_trial_another_live_process_just_finished(
    tmp_path: Path, write_spec: Callable[..., Path], owner: str
) -> None:
    """That process tells the study, then saves the model under the folder's lock: the end of
    the search must not conclude on the study's best without it (nor wait for a dead process)."""
    spec = make_spec(write_spec)
    study = new_study(spec, tmp_path)
    folder = tmp_path / "best_model" / "spec"
    study.tell(study.ask(), 0.1)
    saved_trial(record.candidate_dir(folder), 0)
    best = study.ask()
    best.set_user_attr("worker", f"{socket.gethostname()}:{os.getppid() if owner == 'live' else dead_pid()}")
    study.tell(best, 0.9)

    def save_later() -> None:
        time.sleep(1.0)
        with folder_lock(folder):
            saved_trial(record.candidate_dir(folder), best.number)

    saving = threading.Thread(target=save_later)
    saving.start()
    with record.best_with_model(folder, study) as (found, source):
        held = record.saved_model(source, best.number) is not None
    saving.join()
    assert found is not None and found.number == best.number
    assert held == (owner == "live"), f"the model of trial {best.number} was in {source}: {held}"
