"""Time series for forecasting: a numeric series split in time, cut into windows per trial.

The window length can be searched (``data.window``), so windows are made for each trial from the
chronological splits: each target lies in its own split, and its window may look back into the
split before it, as a forecaster would at that moment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autodl.data.dataset import SPLITS, Dataset, Split
from autodl.data.splits import allocate
from autodl.data.tables import column, numeric
from autodl.errors import DataError


def _statsmodels(name: str) -> Callable[[], object]:
    def load() -> object:
        import statsmodels.api as sm

        return getattr(sm.datasets, name).load_pandas().data.interpolate(limit_direction="both")

    return load


SERIES_COLUMNS = {"sunspots": "SUNACTIVITY", "co2": "co2"}
SERIES: dict[str, Callable[[], object]] = {
    "sunspots": _statsmodels("sunspots"),
    "co2": _statsmodels("co2"),
}
"""Built-in series tables (statsmodels): yearly sunspot numbers 1700-2008 (column SUNACTIVITY),
weekly Mauna Loa CO2 1958-2001 (column co2; missing weeks interpolated)."""


def read_series(frame: object, name: str, where: Path) -> np.ndarray:
    """The numeric column ``name`` of a table, in row order."""
    return numeric(column(frame, name, where, "data.series"), where, name)


@dataclass(frozen=True)
class SeriesData:
    """A series and the chronological range of target positions of each split."""

    name: str
    values: np.ndarray
    bounds: dict[str, tuple[int, int]]
    horizon: int
    stride: int
    _cache: dict[int, Dataset] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def split(cls, name: str, values: np.ndarray, fractions: dict[str, float], horizon: int,
              stride: int) -> SeriesData:
        """Cut ``values`` in time: train first, then train-dev, dev and test."""
        sizes = allocate(len(values), [fractions[s] for s in SPLITS])
        edges = np.cumsum([0, *sizes])
        bounds = {s: (int(a), int(b)) for s, a, b in zip(SPLITS, edges[:-1], edges[1:], strict=True)}
        return cls(name, values.astype("float32"), bounds, horizon, stride)

    def windows(self, window: int) -> Dataset:
        """Windows of ``window`` steps and the value ``horizon`` steps later, for every split."""
        if window not in self._cache:
            self._cache[window] = self._make(window)
        return self._cache[window]

    def _make(self, window: int) -> Dataset:
        splits: dict[str, Split] = {}
        first = window + self.horizon - 1
        for name, (start, stop) in self.bounds.items():
            targets = np.arange(max(start, first), stop, self.stride)
            if len(targets) == 0 and stop > start:
                raise DataError(
                    f"{self.name}: a window of {window} steps leaves the {name} split "
                    f"(positions {start}-{stop - 1} of {len(self.values)}) without a target; use a "
                    "shorter data.window or a longer series."
                )
            x = np.stack([self.values[t - self.horizon - window + 1: t - self.horizon + 1]
                          for t in targets]) if len(targets) else np.zeros((0, window), "float32")
            splits[name] = Split(x[..., np.newaxis], self.values[targets])
        return Dataset(self.name, "sequence", "regression", splits, origin="by_time")

