"""Fixtures of the data tests: a small folder of class subfolders of images."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import COLOURS, write_image


@pytest.fixture
def pets(tmp_path: Path) -> Path:
    """3 classes x 4 solid 4x6 PNGs, one colour per class."""
    root = tmp_path / "pets"
    for name, colour in COLOURS.items():
        for i in range(4):
            write_image(root / name / f"{i:03d}.png", colour=colour)
    return root
