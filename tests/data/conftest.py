"""Fixtures of the data tests: a small folder of class subfolders of images, and the autodl
logger's records."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from autodl.runtime.log import logger
from tests.helpers import COLOURS, write_image


@pytest.fixture
def pets(tmp_path: Path) -> Path:
    """3 classes x 4 solid 4x6 PNGs, one colour per class."""
    root = tmp_path / "pets"
    for name, colour in COLOURS.items():
        for i in range(4):
            write_image(root / name / f"{i:03d}.png", colour=colour)
    return root


@pytest.fixture
def autodl_log(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.LogCaptureFixture]:
    """``caplog`` of the ``autodl`` logger at INFO, also after a CLI test's ``configure()`` has
    stopped it propagating to the root logger that caplog listens on."""
    monkeypatch.setattr(logger, "propagate", True)
    with caplog.at_level(logging.INFO, logger="autodl"):
        yield caplog
