"""Everything MLflow: the client set-up, the parent and trial runs of a search, and publishing an
export as an MLflow model."""

from autodl.tracking.runs import (
    PARENT_RUN_ATTR,
    MlflowTracker,
    NullTracker,
    Tracker,
    open_tracker,
)

__all__ = ["PARENT_RUN_ATTR", "MlflowTracker", "NullTracker", "Tracker", "open_tracker"]
