"""Where the MLflow store and the Optuna study live: their URLs (defaults, SQLite files,
masked credentials), the locks several processes share, and the translation of storage errors."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autodl.errors import StorageError, first_line

if TYPE_CHECKING:
    from autodl.spec import Spec

_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@]*):(?P<secret>[^@/]*)@")


def mask_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


def sqlite_path(url: str) -> Path | None:
    """The file behind a ``sqlite:///relative`` or ``sqlite:////absolute`` URL, else ``None``."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url.removeprefix("sqlite:///"))


def sqlite_file(url: str) -> Path | None:
    """The database file of an on-disk SQLite URL; ``None`` for other URLs and in-memory SQLite."""
    db = sqlite_path(url)
    return None if db is None or str(db) in ("", ":memory:") else db


def missing_sqlite(url: str) -> Path | None:
    """The file of an on-disk SQLite URL when it does not exist yet (opening it would create it)."""
    db = sqlite_file(url)
    return db if db is not None and not db.is_file() else None


def default_storage(tracking_uri: str | None) -> str:
    """The study's default home: ``optuna.db`` beside an SQLite MLflow store, else in ``mlruns/``."""
    db = sqlite_path(tracking_uri or "")
    folder = db.parent if db is not None else Path("mlruns")
    return f"sqlite:///{folder / 'optuna.db'}"


def study_storage(spec: Spec) -> str:
    """The Optuna storage of a spec's study: ``search.storage``, else the default beside the
    MLflow store (in ``mlruns/`` when tracking is off)."""
    return spec.search.storage or default_storage(spec.tracking.uri if spec.tracking.enabled else None)


def absolute(url: str) -> str:
    """An SQLite URL with its file made absolute (others unchanged).

    MLflow caches one store per URL string, so a relative ``sqlite:///mlruns/mlflow.db`` would
    keep pointing at the folder where it was first opened.
    """
    db = sqlite_file(url)
    if db is None or db.is_absolute():
        return url
    return f"sqlite:///{db.resolve()}"


def prepare_sqlite(url: str) -> None:
    """Create the folder of an SQLite database so the first run works on a fresh clone."""
    db = sqlite_file(url)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes of this machine, held on the file ``path``."""
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def sqlite_lock(url: str) -> Iterator[None]:
    """An exclusive lock on a file beside an on-disk SQLite database (its folder created), so that
    processes opening a new database do not race to create its tables; other URLs run unlocked."""
    db = sqlite_file(url)
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(db.parent / f"{db.name}.lock"):
        yield


@contextmanager
def study_lock(url: str, study_name: str) -> Iterator[None]:
    """Hold the study's lock: workers take it to count the trials left and claim the next one,
    so several workers together run exactly the requested number.

    SQLite: an exclusive lock on a file beside the database. PostgreSQL: an advisory lock keyed
    by the study name. Other databases run unlocked (a worker may then start one extra trial).
    """
    if sqlite_file(url) is not None:
        with sqlite_lock(url):
            yield
        return
    if url.startswith(("postgresql", "postgres")):
        from sqlalchemy import text

        key = zlib.crc32(study_name.encode()) - 2**31
        with _engine(url).connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        return
    yield


@lru_cache(maxsize=4)
def _engine(url: str) -> Any:
    """One SQLAlchemy engine per database URL, for the study lock."""
    from sqlalchemy import create_engine

    return create_engine(url, pool_pre_ping=True)


@contextmanager
def storage_errors(url: str) -> Iterator[None]:
    """Turn a database error while opening the study storage into one ``StorageError`` that
    says what to fix, with the URL's password masked."""
    try:
        yield
    except ImportError as exc:  # Optuna re-raises the driver's ModuleNotFoundError
        missing = exc.name or getattr(exc.__cause__, "name", None) or "for this URL"
        raise StorageError(
            f"Cannot open the study storage {mask_url(url)}: its database driver {missing!r} is "
            "not installed. Install it (for PostgreSQL: pip install 'autodl[postgres]')."
        ) from None
    except StorageError:
        raise
    except Exception as exc:  # SQLAlchemy raises many driver-specific types
        reason = mask_url(first_line(exc))
        raise StorageError(
            f"Cannot open the study storage {mask_url(url)}: {reason}. {storage_fix(url, reason)}"
        ) from None


def disk_trouble(reason: str) -> str | None:
    """``"full"`` when an error's message says its disk is full, ``"unwritable"`` when it says its
    file or folder cannot be written (read-only, or no permission: SQLite, MLflow and the OS word
    it so), else ``None``."""
    lowered = reason.lower()
    if "disk is full" in lowered or "no space" in lowered:
        return "full"
    if any(word in lowered for word in ("readonly", "read-only", "permission denied")):
        return "unwritable"
    return None


def storage_fix(url: str, reason: str) -> str:
    """What to do about a storage error: for a SQLite file, its disk or its permissions (naming the
    file and its folder); for a server, the URL and the server."""
    db = sqlite_file(url)
    if db is None:
        return "Check the URL and that the database server is running."
    trouble = disk_trouble(reason)
    if trouble == "full":
        return "The disk holding the database file is full: free some space there."
    if trouble == "unwritable" or "unable to open" in reason.lower():
        return (f"The database file {db} or its folder {db.parent}/ is not writable (read-only, or no "
                "permission): make both writable, or pass --storage with a SQLite file in a writable folder.")
    return "Check the URL and that the file is a SQLite database."


def _is_storage_failure(exc: BaseException) -> bool:
    """Whether an exception raised mid-search is the database's (Optuna's wrapper of a failed
    commit, or any SQLAlchemy database error) rather than a bug in autodl."""
    from optuna.exceptions import StorageInternalError

    return isinstance(exc, StorageInternalError) or type(exc).__module__.startswith("sqlalchemy")


@contextmanager
def storage_failures(url: str) -> Iterator[None]:
    """Turn the database failing while a search runs (a full disk, a server gone away) into one
    ``StorageError`` that says what to fix. What the study stored before stays, so the same
    command resumes; other exceptions pass unchanged."""
    try:
        yield
    except Exception as exc:
        if not _is_storage_failure(exc):
            raise
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        reason = mask_url(first_line(cause))
        raise StorageError(
            f"The study storage {mask_url(url)} failed during the search: {reason}. "
            f"{storage_fix(url, reason)} The finished trials are stored; the same command resumes "
            "the search."
        ) from None
