"""The best-model folder and the end of a search: the one owner of ``best.json``, the test score
measured once, the bias / variance diagnosis and the error analysis."""

from autodl.results.diagnosis import Diagnosis
from autodl.results.finalize import finalize
from autodl.results.record import BestModelSaver, BestRecord, best_dir, read_record
from autodl.results.summary import SearchSummary

__all__ = ["BestModelSaver", "BestRecord", "Diagnosis", "SearchSummary", "best_dir", "finalize", "read_record"]
