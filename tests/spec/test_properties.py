"""Property tests of spec loading: whatever the file holds (a shipped spec with wrong types, missing
or misspelled keys, wrong nesting, odd unicode, huge numbers; a spec cut or garbled as text; raw
bytes), ``load_spec`` returns a ``Spec`` or raises ``SpecError``, and ``autodl validate`` exits 0
or 2 with one message and no traceback, without touching the network; each of 500 specs goes to
both, and both agree. About 15 s; no example database is written."""

from __future__ import annotations

import copy
import math
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from autodl.cli import app
from autodl.errors import SpecError
from autodl.spec.document import Spec, load_spec
from tests.helpers import REPO

SHIPPED = {path.name: yaml.safe_load(path.read_text(encoding="utf-8"))
           for path in sorted((REPO / "search_spaces").glob("*.yaml"))}
SOURCES = ["digits", "sunspots", "keras:mnist", "keras:imdb", "keras:nope", "no_such_file.csv"]
"""Data sources the mutations may set: built-in and Keras names (``validate`` resolves them without
loading anything) and one missing file."""
ODD_TEXT = ["", " ", "\u202e\u05d0\u05d1", "\U0001f600\U0001f680", "\x00", "\ud800", "\udfff", "é",
            "\ufeff", "a\u0301", "\u200b", "\n", "'\"", "{", "- x", "&anchor", "*alias", "!!python/name:os.system"]
HUGE = [10**40, -(10**40), 2**63, -1, 0, 1e308, -1e308, 1e-320, math.nan, math.inf, -math.inf]
EXAMPLES = 500
CI_BOUND_S = 180.0
"""The most the 500 examples may take (about 15 s on a 2-core machine)."""

scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(HUGE), st.integers(), st.floats(allow_nan=True),
    st.sampled_from(ODD_TEXT), st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=3)),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path into a document of dicts and lists (the root excluded)."""
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, child in items:
        yield (*prefix, key)
        yield from paths(child, (*prefix, key))


def parent_of(doc: Any, path: tuple[Any, ...]) -> Any:
    node = doc
    for key in path[:-1]:
        node = node[key]
    return node


def misspell(key: str, data: st.DataObject) -> str:
    """A near miss of ``key``: a letter dropped, doubled or swapped, other case, a suffix, odd unicode."""
    i = data.draw(st.integers(0, max(len(key) - 1, 0)))
    return data.draw(st.sampled_from([
        key[:i] + key[i + 1:], key[:i] + key[i:i + 1] * 2 + key[i + 1:], key[::-1], key.upper(),
        key + "s", key.replace("_", "-"), key + "\u200b", "\u202e" + key,
    ]))


MUTATIONS = ["value", "huge", "odd", "delete", "misspell", "nest", "list", "move", "source"]
MILD = ["huge", "odd", "delete", "source"]
"""Mutations that often leave a spec valid, so that the checks after loading run too."""


def mutate(doc: Any, data: st.DataObject, kinds: list[str]) -> Any:
    """One mutation of one of ``kinds`` at a random place of ``doc``."""
    found = list(paths(doc))
    if not found:
        return data.draw(values)
    path = data.draw(st.sampled_from(found))
    parent, key = parent_of(doc, path), path[-1]
    kind = data.draw(st.sampled_from(kinds))
    if kind == "value":
        parent[key] = data.draw(values)
    elif kind == "huge" and isinstance(parent[key], (int, float)):
        parent[key] = data.draw(st.sampled_from(HUGE))
    elif kind == "odd" and isinstance(parent[key], str):
        parent[key] += data.draw(st.sampled_from(ODD_TEXT))
    elif kind == "delete":
        del parent[key]
    elif kind == "misspell" and isinstance(parent, dict) and isinstance(key, str):
        parent[misspell(key, data)] = parent.pop(key)
    elif kind == "nest":
        parent[key] = {data.draw(st.sampled_from(["value", "int", "float", "choice", key if isinstance(key, str)
                                                  else "x"])): parent[key]}
    elif kind == "list":
        parent[key] = [parent[key]]
    elif kind == "move" and isinstance(doc, dict):
        section = data.draw(st.sampled_from(list(doc)))
        if isinstance(doc[section], dict) and section != key:
            doc[section][key] = parent.pop(key)
    elif kind == "source" and isinstance(doc, dict):
        doc.setdefault("data", {})
        if isinstance(doc["data"], dict):
            doc["data"]["source"] = data.draw(st.sampled_from(SOURCES))
    return doc


def dump(doc: Any, data: st.DataObject) -> bytes:
    """``doc`` as YAML bytes; surrogates (which UTF-8 cannot hold) are written as YAML escapes."""
    plain = data.draw(st.booleans())
    try:
        return yaml.safe_dump(doc, allow_unicode=plain, sort_keys=False).encode("utf-8")
    except UnicodeEncodeError:
        return yaml.safe_dump(doc, allow_unicode=False, sort_keys=False).encode("utf-8")


def garble(text: bytes, data: st.DataObject) -> bytes:
    """A text-level change: a cut, a line repeated or dropped, a character or bytes inserted."""
    kind = data.draw(st.sampled_from(["cut", "repeat", "drop", "insert", "bytes", "indent"]))
    at = data.draw(st.integers(0, len(text)))
    lines = text.split(b"\n")
    line = data.draw(st.integers(0, len(lines) - 1))
    if kind == "cut":
        return text[:at]
    if kind == "repeat":
        return b"\n".join([*lines[:line + 1], lines[line], *lines[line + 1:]])
    if kind == "drop":
        return b"\n".join(lines[:line] + lines[line + 1:])
    if kind == "insert":
        return text[:at] + data.draw(st.sampled_from(ODD_TEXT + [":", "- ", "\t", "  "])).encode(
            "utf-8", "surrogatepass") + text[at:]
    if kind == "bytes":
        return text[:at] + data.draw(st.binary(min_size=1, max_size=4)) + text[at:]
    return b"\n".join([*lines[:line], b"   " + lines[line], *lines[line + 1:]])


@st.composite
def spec_files(draw: st.DrawFn) -> bytes:
    """The bytes of a spec file: a shipped spec mutated (mildly or not, maybe garbled as text), or
    anything."""
    data = draw(st.data())
    kind = draw(st.sampled_from(["mild", "mild", "mutated", "mutated", "garbled", "text", "bytes"]))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    doc = copy.deepcopy(SHIPPED[draw(st.sampled_from(sorted(SHIPPED)))])
    for _ in range(draw(st.integers(1, 4))):
        doc = mutate(doc, data, MILD if kind == "mild" else MUTATIONS)
    text = dump(doc, data)
    return garble(text, data) if kind == "garbled" else text


@contextmanager
def spec_file(content: bytes) -> Iterator[Path]:
    """``content`` written as ``spec.yaml`` in a fresh folder."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_bytes(content)
        yield path


@contextmanager
def no_network() -> Iterator[None]:
    """Any connection attempt fails the example (``validate`` never downloads a data set)."""
    def refuse(*args: Any) -> None:
        raise AssertionError("autodl validate tried to open a network connection")

    with mock.patch.object(socket.socket, "connect", refuse):
        yield


def test_500_specs_each_load_as_a_spec_or_spec_error_and_validate_with_0_or_2() -> None:
    seen: list[str] = []
    runner = CliRunner()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(spec_files())
    def check(content: bytes) -> None:
        with spec_file(content) as path, no_network():
            try:
                loaded = load_spec(path)
            except SpecError as exc:
                assert str(exc).strip()
                outcome = "spec-error"
            else:
                assert isinstance(loaded, Spec)
                loaded.searched()
                loaded.parameters()
                outcome = "spec"
            result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code in (0, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output and "internal error" not in result.output
        if result.exit_code == 2:
            assert result.output.startswith("Error: ")
        if outcome == "spec-error":
            assert result.exit_code == 2, "validate accepts a spec that load_spec refuses"
        seen.append(outcome)

    started = time.monotonic()
    check()
    elapsed = time.monotonic() - started
    assert len(seen) >= EXAMPLES, f"only {len(seen)} specs were checked"
    assert elapsed < CI_BOUND_S, f"{len(seen)} specs took {elapsed:.0f} s"
    assert seen.count("spec") > 0 and seen.count("spec-error") > 0, "both valid and invalid specs were drawn"
