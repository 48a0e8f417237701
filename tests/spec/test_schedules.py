"""Learning-rate schedules: the factor at each epoch, by hand arithmetic."""

from __future__ import annotations

import math

import pytest

from autodl.spec.names import SCHEDULES
from autodl.spec.schedules import learning_rate


def cfg(schedule: str, rate: float = 0.5, every: int = 2) -> dict:
    return {"schedule": schedule, "learning_rate": 0.1, "decay_rate": rate, "decay_epochs": every}


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("constant", [0.1, 0.1, 0.1, 0.1]),
        ("inverse_time", [0.1, 0.1 / 1.5, 0.1 / 2.0, 0.1 / 2.5]),
        ("exponential", [0.1, 0.05, 0.025, 0.0125]),
        ("step", [0.1, 0.1, 0.05, 0.05]),
        ("cosine", [0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05, 0.1 * (1 + math.cos(3 * math.pi / 4)) / 2]),
        ("inv_sqrt", [0.1, 0.1 / math.sqrt(2), 0.1 / math.sqrt(3), 0.05]),
    ],
)
def test_rate_per_epoch(schedule: str, expected: list[float]) -> None:
    assert [learning_rate(cfg(schedule), e, 4) for e in range(4)] == pytest.approx(expected)


def test_every_schedule_starts_at_the_initial_rate_and_never_grows() -> None:
    for name in SCHEDULES.names:
        rates = [learning_rate(cfg(name, rate=0.9), e, 10) for e in range(10)]
        assert rates[0] == pytest.approx(0.1), name
        assert all(b <= a + 1e-12 for a, b in zip(rates, rates[1:], strict=False)), name
