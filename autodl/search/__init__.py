"""How to search: samplers and pruners by name, the study, sampling a trial, coarse-to-fine
stages, the ask/tell loop, worker processes and progress.

The public face is the study (``open_study``, ``best_trial``) and the loop (``optimize``,
``SearchResult``, ``SearchObserver``).
"""

from autodl.search.loop import (
    Objective,
    SearchEnd,
    SearchObserver,
    SearchResult,
    SearchStart,
    optimize,
)
from autodl.search.study import FINISHED, best_trial, open_study, recover

__all__ = [
    "FINISHED", "Objective", "SearchEnd", "SearchObserver", "SearchResult", "SearchStart",
    "best_trial", "open_study", "optimize", "recover",
]
