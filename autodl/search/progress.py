"""Live progress of a search: a bar over trials and the running trial's epoch, on a terminal only.

Off a terminal (CI, pipes) each finished trial is one log line; ``--quiet`` silences both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from autodl.outcome import EpochListener, TrialOutcome
from autodl.runtime.log import logger, stderr_console

if TYPE_CHECKING:
    from autodl.search.loop import SearchEnd, SearchStart


class SearchProgress:
    """An observer of the search that draws progress: the bar lives from search start to end."""

    def __init__(self, metric: str, live: bool) -> None:
        self.metric = metric
        self.live = live
        self._progress: Progress | None = None
        self._task: Any = None

    def search_started(self, start: SearchStart) -> None:
        """Draw the bar over ``start.total`` trials, ``start.done`` of them finished already."""
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]trials"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=stderr_console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=start.total, completed=start.done)

    def search_ended(self, end: SearchEnd) -> None:
        """Take the bar away."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def trial_started(
        self, number: int, params: dict[str, Any], seed: int, tags: dict[str, str]
    ) -> EpochListener:
        """Show the running trial; return a listener that shows its latest epoch."""
        stage = f" (stage {tags['stage']})" if "stage" in tags else ""
        self._describe(f"trial {number}{stage} starting")

        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            value = metrics.get(self.metric)
            shown = f"{self.metric} {value:.4f}" if value is not None else ""
            self._describe(f"trial {number} epoch {epoch}  {shown}")

        return on_epoch

    def trial_attributes(self, number: int) -> dict[str, Any]:
        """Progress adds nothing to the trial."""
        return {}

    def trial_finished(self, number: int, outcome: TrialOutcome) -> None:
        """Advance the bar and log one line for the trial."""
        if self._progress is not None:
            self._progress.advance(self._task)
        value = f"{outcome.value:.4f}" if outcome.value is not None else "-"
        extra = f" at epoch {outcome.pruned_epoch}" if outcome.pruned_epoch else ""
        if outcome.state != "failed":
            logger.info(
                "trial %d %s%s: %s %s (%d epochs, %.1f s)",
                number, outcome.state, extra, self.metric, value, outcome.epochs, outcome.duration_s,
            )

    def show_done(self, done: int) -> None:
        """Move the bar to ``done`` finished trials (workers in other processes run them)."""
        if self._progress is not None:
            self._progress.update(self._task, completed=done, description="workers running")

    def _describe(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)
