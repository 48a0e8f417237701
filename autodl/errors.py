"""Error types autodl raises on purpose.

The CLI turns every ``AutodlError`` into one clear message and exit code 2; anything else is a
bug: one line, its traceback in a log file, exit code 3.
"""

from __future__ import annotations


class AutodlError(Exception):
    """A problem the user can fix: bad input, an unreachable server, a missing file."""


class SpecError(AutodlError):
    """The spec is malformed or inconsistent."""


class DataError(AutodlError):
    """The data named by the spec cannot be read or used."""


class TrackingError(AutodlError):
    """The MLflow tracking store cannot be reached or written."""


class StorageError(AutodlError):
    """The Optuna study storage cannot be reached or opened."""


class OutputError(AutodlError):
    """A folder autodl writes its results to is read-only, not a folder, or on a full disk."""


class TrialFailed(AutodlError):
    """One trial could not finish (NaN loss, impossible shape); the search goes on."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none (drivers and
    servers often append pages of detail after it)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
