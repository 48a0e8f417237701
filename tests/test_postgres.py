"""A shared study on this machine's PostgreSQL server: two processes' worth of trials, one study.

Skipped, with the reason printed, when no server answers (``.ci/run`` starts one when it can).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from autodl import search
from tests.test_search import by_filters, curve_objective, make_spec

POSTGRES_URL = os.environ.get("AUTODL_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")


@pytest.fixture
def postgres() -> str:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    try:
        engine = sqlalchemy.create_engine(POSTGRES_URL)
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
    except Exception as exc:  # no server, no driver, refused
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {type(exc).__name__}")
    return POSTGRES_URL


def test_two_searches_share_one_study_on_postgres(postgres: str, write_spec: Callable[..., Path]) -> None:
    spec = make_spec(write_spec, trials=5, pruner={"name": "none"})
    spec = spec.with_overrides(name=f"pg-{uuid.uuid4().hex[:8]}")
    first = search.optimize(spec.with_overrides(**{"search.trials": 3}), search.open_study(spec, postgres),
                            curve_objective(by_filters), [], lambda t, o: None)
    second = search.optimize(spec, search.open_study(spec, postgres), curve_objective(by_filters), [],
                             lambda t, o: None)
    assert (first.ran, second.ran) == (3, 2)
    import optuna

    study = optuna.load_study(study_name=spec.name, storage=postgres)
    assert [t.number for t in study.trials] == list(range(5))
    assert all(t.user_attrs["config"]["model"]["family"] == "cnn" for t in study.trials)
    optuna.delete_study(study_name=spec.name, storage=postgres)
