"""Named things a user picks (optimizers, schedules, strategies, pruners, families, export
formats): one list of entries per kind, with the names, the lookup and its error derived from it.

This is Keras's ``ALL_OBJECTS`` -> ``ALL_OBJECTS_DICT`` -> ``get()`` habit. Where the entries
carry code of a later stage (an Optuna pruner, an export format), the spec keeps the list of names
the user may write and the later stage's registry is checked against it when it is built.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from autodl.errors import AutodlError, SpecError


class Named(Protocol):
    """Anything with a ``name``."""

    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)
V = TypeVar("V")


@dataclass(frozen=True)
class Entry:
    """A plain named entry, for kinds whose implementation lives in a later stage."""

    name: str


class Registry(Generic[T]):
    """The entries of one kind, looked up by name.

    ``what`` names the kind in messages ("model family"); ``path`` is how the received value is
    shown (``model.family``); ``note`` follows the list of valid names; ``expected`` (the names
    the spec accepts) makes a registry of a later stage prove it implements exactly those.
    """

    def __init__(
        self, what: str, path: str, entries: Sequence[T], *, error: type[AutodlError] = SpecError,
        note: str = "", expected: Sequence[str] | None = None,
    ) -> None:
        self.what, self.path, self.note, self.error = what, path, note, error
        self._entries: dict[str, T] = {}
        for entry in entries:
            if entry.name in self._entries:
                raise ValueError(f"{what}: the name {entry.name!r} is registered twice")
            self._entries[entry.name] = entry
        if expected is not None and tuple(expected) != self.names:
            raise ValueError(f"{what}: registered {self.names}, but the spec accepts {tuple(expected)}")

    @property
    def names(self) -> tuple[str, ...]:
        """Every valid name, in registration order."""
        return tuple(self._entries)

    def __iter__(self) -> Iterator[T]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> T:
        """The entry called ``name``; otherwise this registry's error, listing the valid names."""
        try:
            return self._entries[name]
        except KeyError:
            raise self.error(self.unknown(name)) from None

    def bind(self, implementations: Mapping[str, V]) -> dict[str, V]:
        """A later stage's implementation of each name, checked to cover exactly these names, in
        registration order (so a name added to the spec cannot be left unimplemented)."""
        if set(implementations) != set(self._entries):
            missing = sorted(set(self._entries) - set(implementations))
            extra = sorted(set(implementations) - set(self._entries))
            raise ValueError(f"{self.what}: implementations missing {missing}, unknown {extra}")
        return {name: implementations[name] for name in self._entries}

    def unknown(self, name: object) -> str:
        """``Unknown <what>. Expected one of a, b<note>. Received: <path>='x'``."""
        hint = difflib.get_close_matches(str(name), list(self.names), n=1, cutoff=0.6)
        did = f" Did you mean {hint[0]!r}?" if hint else ""
        return (f"Unknown {self.what}. Expected one of {', '.join(self.names)}{self.note}.{did} "
                f"Received: {self.path}={name!r}")
