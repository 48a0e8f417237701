"""The best-model folder: each update staged privately and swapped in whole, and what a killed
process leaves beside it undone."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from autodl.errors import OutputError
from autodl.results.record import (
    check_writable,
    folder_lock,
    read_record,
    recover_folder,
    updating,
    write_json,
    writing,
)
from tests.helpers import dead_pid


def make_folder(folder: Path, trial: int) -> None:
    folder.mkdir(parents=True)
    (folder / "model.keras").write_text(f"model {trial}")
    write_json(folder / "best.json", {"trial": trial})
    (folder / "export").mkdir()
    (folder / "export" / "export.json").write_text(json.dumps({"trial": trial}))


def test_an_update_replaces_the_whole_folder_and_keeps_what_it_is_told(tmp_path: Path) -> None:
    folder = tmp_path / "best_model" / "spec"
    make_folder(folder, 1)
    with folder_lock(folder), updating(folder, keep=("model.keras",)) as stage:
        assert stage.parent == folder.parent and stage.name.startswith(f".spec.stage-{os.getpid()}-")
        assert (folder / "export").is_dir(), "the current folder stays whole while the next is staged"
        write_json(stage / "best.json", {"trial": 2})
    assert sorted(p.name for p in folder.iterdir()) == ["best.json", "model.keras"]
    assert read_record(folder) == {"trial": 2} and (folder / "model.keras").read_text() == "model 1"
    assert sorted(p.name for p in folder.parent.iterdir()) == [".spec.lock", "spec"]


def test_an_update_that_fails_leaves_the_previous_folder(tmp_path: Path) -> None:
    folder = tmp_path / "spec"
    make_folder(folder, 1)
    with pytest.raises(RuntimeError, match="export failed"), updating(folder) as stage:
        write_json(stage / "best.json", {"trial": 2})
        raise RuntimeError("export failed")
    assert read_record(folder) == {"trial": 1} and (folder / "export" / "export.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["spec"]


def test_a_first_update_creates_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "best_model" / "spec"
    with folder_lock(folder), updating(folder) as stage:
        write_json(stage / "best.json", {"trial": 0})
    assert read_record(folder) == {"trial": 0}


def test_what_a_killed_process_left_is_undone_and_a_live_ones_staging_kept(tmp_path: Path) -> None:
    folder = tmp_path / "spec"
    pid = dead_pid()
    moved = tmp_path / f".spec.old-{pid}-abcd1234"
    make_folder(moved, 3)
    stale = tmp_path / f".spec.stage-{pid}-ffff0000"
    stale.mkdir()
    live = tmp_path / f".spec.stage-{os.getppid()}-00000000"
    live.mkdir()
    other = tmp_path / ".other.stage-1-0"
    other.mkdir()
    recover_folder(folder)
    assert read_record(folder) == {"trial": 3}, "the folder a killed swap had moved aside is back"
    assert not moved.exists() and not stale.exists()
    assert live.is_dir() and other.is_dir()


def test_a_moved_aside_folder_of_a_killed_swap_is_dropped_once_a_newer_folder_stands(tmp_path: Path) -> None:
    folder = tmp_path / "spec"
    make_folder(folder, 4)
    moved = tmp_path / f".spec.old-{dead_pid()}-abcd1234"
    make_folder(moved, 3)
    recover_folder(folder)
    assert read_record(folder) == {"trial": 4} and not moved.exists()


def test_json_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    path = tmp_path / "best.json"
    write_json(path, {"trial": 1, "path": tmp_path})
    assert json.loads(path.read_text()) == {"trial": 1, "path": str(tmp_path)}
    assert [p.name for p in tmp_path.iterdir()] == ["best.json"]


def test_an_update_can_take_its_kept_entries_from_the_candidate(tmp_path: Path) -> None:
    folder = tmp_path / "spec"
    make_folder(folder, 1)
    candidate = tmp_path / ".spec.candidate"
    make_folder(candidate, 2)
    with updating(folder, keep=("model.keras", "best.json"), source=candidate):
        assert read_record(folder) == {"trial": 1}, "the complete folder stands until the swap"
    assert read_record(folder) == {"trial": 2} and (folder / "model.keras").read_text() == "model 2"
    assert not (folder / "export").exists()


def test_a_full_disk_under_the_folder_is_an_output_error_that_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "best_model" / "spec"
    with pytest.raises(OutputError) as caught, writing(folder):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(caught.value) == (
        f"Cannot write the best-model folder {folder}: No space left on device. Free some disk space "
        "there, or set export.dir to a folder that is; the study keeps every finished trial, so the "
        "same command resumes the search."
    )


def test_a_read_only_folder_names_the_file_that_could_not_be_written(tmp_path: Path) -> None:
    folder = tmp_path / "spec"
    lock = tmp_path / ".spec.lock"
    with pytest.raises(OutputError, match=rf"Read-only file system \({lock}\)\. Make it writable"), writing(folder):
        raise OSError(errno.EROFS, "Read-only file system", str(lock))


def test_an_error_naming_a_file_elsewhere_is_not_blamed_on_the_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path.parent / "data.csv"
    with pytest.raises(FileNotFoundError), writing(tmp_path / "out" / "spec"):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(elsewhere))


def test_the_writable_check_leaves_only_the_lock_and_refuses_a_file_in_the_folders_place(tmp_path: Path) -> None:
    folder = tmp_path / "best_model" / "spec"
    check_writable(folder)
    assert sorted(p.name for p in folder.parent.iterdir()) == [".spec.lock"]
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with pytest.raises(OutputError, match=f"Cannot write the best-model folder {blocked / 'x' / 'spec'}: "):
        check_writable(blocked / "x" / "spec")
