"""``--set KEY=VALUE`` on the command line: one spec field changed for one run, the way Helm's
``--set`` and Hydra's overrides work, so a shipped spec runs on other data or weights unedited."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from autodl.errors import SpecError

KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
EXAMPLE = "--set training.epochs=3"


def parse_assignments(items: Sequence[str]) -> dict[str, Any]:
    """Each ``KEY=VALUE`` as a dotted spec path and its value read as YAML (``3`` is a number,
    ``[a, b]`` a list, ``{choice: [1, 2]}`` a searched field); a later item for a key wins."""
    found: dict[str, Any] = {}
    for item in items:
        key, equals, text = item.partition("=")
        key = key.strip()
        if not equals or not KEY.fullmatch(key):
            raise SpecError(f"--set takes KEY=VALUE, KEY a dotted spec path such as {EXAMPLE}. "
                            f"Received: --set {item!r}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
            raise SpecError(f"--set {key}: the value is not valid YAML ({problem}); quote it, e.g. "
                            f"--set '{key}=\"...\"'. Received: --set {item!r}") from None
        if value is None:
            raise SpecError(f"--set {key}: give a value after '=' (as you would write it in the spec), "
                            f"e.g. {EXAMPLE}. Received: --set {item!r}")
        found[key] = value
    return found
