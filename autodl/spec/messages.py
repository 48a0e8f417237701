"""Pydantic's validation errors as one line each: the dotted spec path, what was wrong, a
"did you mean" for a misspelled key, and ``Received: path=value``."""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import ValidationError

from autodl.spec.fields import Section
from autodl.spec.sections import MODEL_SPECS


def _loc_path(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """Dotted path parts, without pydantic's union-tag step (``model.cnn.filters``)."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] == "model" and parts[1] in MODEL_SPECS:
        del parts[1]
    return tuple(parts)


def _section_at(parts: tuple[str, ...], raw: Any, root: type[Section]) -> type[Section] | None:
    """The spec section class found by walking ``parts`` from the top."""
    cls: type[Section] = root
    for part in parts:
        if part == "model" and cls is root:
            family = raw.get("model", {}).get("family") if isinstance(raw, dict) else None
            found = MODEL_SPECS.get(family) if isinstance(family, str) else None
            if found is None:
                return None
            cls = found
            continue
        field = cls.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, Section)):
            return None
        cls = annotation
    return cls


def format_errors(exc: ValidationError, where: str, document: Any, root: type[Section]) -> str:
    """One line per problem: dotted path, what was wrong, and ``Received: path=value``."""
    lines = [f"Invalid spec {where}:"]
    for error in exc.errors(include_url=False):
        parts = _loc_path(error["loc"])
        dotted = ".".join(parts) or "spec"
        kind = error["type"]
        value = error.get("input")
        if kind == "extra_forbidden":
            section = _section_at(parts[:-1], document, root)
            valid = list(section.model_fields) if section else []
            hint = difflib.get_close_matches(parts[-1], valid, n=1, cutoff=0.6)
            did = f"; did you mean {'.'.join(parts[:-1] + (hint[0],))!r}?" if hint else "."
            allowed = f" Allowed keys: {', '.join(valid)}." if valid and not hint else ""
            lines.append(f"  {dotted}: unknown key{did}{allowed} Received: {dotted}={value!r}")
        elif kind == "missing":
            lines.append(f"  {dotted}: missing required key.")
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            family = value.get("family") if isinstance(value, dict) else None
            hint = difflib.get_close_matches(str(family), list(MODEL_SPECS), n=1)
            did = f"; did you mean {hint[0]!r}?" if hint and family is not None else "."
            lines.append(
                f"  {dotted}.family: expected one of {', '.join(MODEL_SPECS)}{did} "
                f"Received: {dotted}.family={family!r}"
            )
        else:
            message = re.sub(r"^(Value error|Assertion failed), ", "", error["msg"]).rstrip(".")
            stop = "" if message.endswith("?") else "."
            lines.append(f"  {dotted}: {message}{stop} Received: {dotted}={value!r}")
    return "\n".join(lines)
