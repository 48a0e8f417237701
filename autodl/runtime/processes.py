"""Processes of this machine: whether one still runs, for the owners of trials and staging folders."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether the process ``pid`` of this machine still runs (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
