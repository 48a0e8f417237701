"""The single ``autodl`` logger and the console it writes to.

Progress bars and per-trial lines are shown only when stderr is a terminal and ``--quiet`` is off,
so CI logs stay short.
"""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.logging import RichHandler

logger = logging.getLogger("autodl")

PIPED_WIDTH = 160


def _console(stderr: bool) -> Console:
    """A console that draws at the terminal's width, or at ``PIPED_WIDTH`` into files and pipes."""
    console = Console(stderr=stderr, soft_wrap=True)
    if not console.is_terminal:
        console = Console(stderr=stderr, soft_wrap=True, width=PIPED_WIDTH)
    return console


stdout_console = _console(stderr=False)
stderr_console = _console(stderr=True)


def configure(quiet: bool = False, label: str | None = None) -> None:
    """Route the ``autodl`` logger to stderr; ``quiet`` keeps only warnings and errors.

    A worker started by ``autodl search --workers`` passes ``label``: its lines are plain and
    prefixed so that several workers' lines stay readable on one terminal.
    """
    logger.handlers.clear()
    handler: logging.Handler
    if stderr_console.is_terminal and label is None:
        handler = RichHandler(console=stderr_console, show_path=False, show_time=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        prefix = f"autodl[{label}]" if label else "autodl"
        handler.setFormatter(logging.Formatter(f"{prefix}: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def interactive(quiet: bool) -> bool:
    """Whether live progress (bars, per-epoch status) should be drawn."""
    return not quiet and stderr_console.is_terminal
