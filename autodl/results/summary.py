"""What a finished search hands to the report: the spec, the data, how the search ended, the
best trial's record and diagnosis, and where the results are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autodl.data import Dataset
from autodl.results.diagnosis import Diagnosis
from autodl.results.record import BestRecord
from autodl.search import SearchResult
from autodl.spec import Spec


@dataclass
class SearchSummary:
    """Everything the final report shows."""

    spec: Spec
    data: Dataset
    result: SearchResult
    best: BestRecord | None
    diagnosis: Diagnosis | None
    export_dir: Path
    storage: str
    tracking_uri: str | None
    parent_run_id: str | None
