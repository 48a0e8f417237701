"""Fixtures of the report tests: one coarse-to-fine study searched with the fake objective."""

from __future__ import annotations

import pytest

from tests.helpers import Searched, search_once


@pytest.fixture(scope="package")
def coarse_to_fine(tmp_path_factory: pytest.TempPathFactory) -> Searched:
    """16 trials in 2 stages: complete, infeasible (64 filters), pruned and failed ones."""
    return search_once(tmp_path_factory.mktemp("c2f"), strategy="coarse_to_fine", stages=2, trials=16,
                       constraints={"params": 2500})
