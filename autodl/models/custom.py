"""Bring your own model: a KerasTuner-style ``build(hp)`` answered from autodl's Optuna trial.

``model: {family: custom, build: "my_models:build"}`` imports ``my_models`` (from the spec's
folder first) when a search starts, never when a spec is validated or sampled. Each ``hp.Int`` /
``hp.Float`` / ``hp.Choice`` / ``hp.Boolean`` call becomes a parameter ``model.<name>`` of the
trial, so the hypermodel gets autodl's sampling, pruning, tracking and export unchanged.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from autodl.errors import SpecError, TrialFailed, first_line
from autodl.models.base import Built
from autodl.outcome import Suggest
from autodl.spec import space

DATA_KINDS = ("image", "text", "tabular", "sequence")
Builder = Callable[[Any], Any]


class TrialHyperParameters:
    """The part of KerasTuner's ``HyperParameters`` that hypermodels call, backed by a trial."""

    def __init__(self, suggest: Suggest) -> None:
        self._suggest = suggest
        self.values: dict[str, Any] = {}

    def _take(self, name: str, dist: space.Distribution) -> Any:
        value = self._suggest(f"model.{name}", dist)
        self.values[name] = value
        return value

    def Int(  # noqa: N802  # KerasTuner's method names
        self, name: str, min_value: int, max_value: int, step: int | None = None,
        sampling: str = "linear", default: int | None = None, **_: Any,
    ) -> int:
        if sampling not in ("linear", "log"):
            raise TrialFailed(f"hp.Int({name!r}): sampling={sampling!r} is not supported; use linear or log")
        return int(self._take(name, space.IntRange(min_value, max_value, step or 1, sampling == "log")))

    def Float(  # noqa: N802  # as Int
        self, name: str, min_value: float, max_value: float, step: float | None = None,
        sampling: str = "linear", default: float | None = None, **_: Any,
    ) -> float:
        scales: dict[str, space.Scale] = {"linear": "linear", "log": "log", "reverse_log": "inv_log"}
        if sampling not in scales:
            raise TrialFailed(f"hp.Float({name!r}): unknown sampling={sampling!r}")
        if sampling == "reverse_log" and not 0 <= min_value <= max_value < 1:
            raise TrialFailed(
                f"hp.Float({name!r}): reverse_log samples 1 - x on a log scale and needs "
                f"0 <= min_value <= max_value < 1, but got [{min_value}, {max_value}]"
            )
        scale = scales[sampling]
        return float(self._take(name, space.FloatRange(min_value, max_value, scale, step)))

    def Choice(self, name: str, values: list[Any], ordered: bool | None = None,  # noqa: N802  # as Int
               default: Any = None, **_: Any) -> Any:
        return self._take(name, space.Choice(tuple(values)))

    def Boolean(self, name: str, default: bool = False, **_: Any) -> bool:  # noqa: N802  # as Int
        return bool(self._take(name, space.Choice((False, True))))

    def Fixed(self, name: str, value: Any, **_: Any) -> Any:  # noqa: N802  # as Int
        self.values[name] = value
        return value

    def get(self, name: str) -> Any:
        return self.values[name]

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.values

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Any) -> Iterator[None]:
        """Conditions come for free: a branch the code does not run samples nothing."""
        yield


def load_builder(target: str, base_dir: Path) -> Builder:
    """Import ``module:attribute`` (a function, or a KerasTuner HyperModel class or instance)."""
    module_name, _, attribute = target.partition(":")
    folder = str(base_dir)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module = _import(module_name, target)
    found = getattr(module, attribute, None)
    if found is None:
        raise SpecError(
            f"model.build: {module_name} has no {attribute!r}. Received: model.build={target!r}"
        )
    if isinstance(found, type):
        found = found()
    build = getattr(found, "build", found)
    if not callable(build):
        raise SpecError(
            f"model.build: {target} is neither a build(hp) function nor a HyperModel. "
            f"Received: model.build={target!r}"
        )
    return build


def _import(module_name: str, target: str) -> ModuleType:
    """The user's module; a missing one, or any error its code raises while it is imported (a
    syntax error, a bad name, a failing import), is one ``SpecError`` with the file and line."""
    try:
        found = importlib.util.find_spec(module_name)
    except ModuleNotFoundError as exc:
        found, missing = None, str(exc)
    except Exception as exc:  # a parent package's own code failed
        raise SpecError(_import_failure(module_name, target, exc, None)) from None
    else:
        missing = f"No module named {module_name!r}"
    if found is None:
        raise SpecError(
            f"model.build: cannot import {module_name!r} ({missing}). Put {module_name}.py beside "
            f"the spec file or install it. Received: model.build={target!r}"
        )
    try:
        return importlib.import_module(module_name)
    except Exception as exc:  # whatever the user's module raises at import
        raise SpecError(_import_failure(module_name, target, exc, found.origin)) from None


def _import_failure(module_name: str, target: str, exc: Exception, origin: str | None) -> str:
    """The message for a module that fails while it is imported: its error, file and line."""
    if isinstance(exc, SyntaxError):  # its location is the bad line, not a traceback frame
        where, message = f"{exc.filename}, line {exc.lineno}", exc.msg
    else:
        where, message = _location(exc, origin), first_line(exc)
    return (
        f"model.build: importing {module_name} raised {type(exc).__name__}: {message} (at "
        f"{where}). Fix the module, then run the search again. Received: model.build={target!r}"
    )


def _location(exc: BaseException, source: str | None) -> str:
    """``file, line N`` of the last traceback frame in ``source`` (the user's module), else of
    the deepest frame (where the error was raised) outside Python's frozen import machinery."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
    ours = [f for f in frames if source is not None and f.filename == source]
    frame = (ours or frames)[-1]
    return f"{frame.filename}, line {frame.lineno}"


def build(user_build: Builder, suggest: Suggest) -> Built:
    """Call the user's builder with a trial-backed ``hp``; keep the values it sampled.

    An error inside ``build(hp)`` fails the trial with the user's file and line in its reason.
    """
    hp = TrialHyperParameters(suggest)
    try:
        model = user_build(hp)
    except TrialFailed:
        raise
    except Exception as exc:  # the user's code can raise anything; the trial fails, the search goes on
        source = getattr(sys.modules.get(getattr(user_build, "__module__", "")), "__file__", None)
        raise TrialFailed(
            f"build(hp) raised {type(exc).__name__}: {first_line(exc)} (at {_location(exc, source)})"
        ) from exc
    if model is None or not hasattr(model, "fit"):
        raise TrialFailed(f"build(hp) returned {type(model).__name__}, not a Keras model")
    if not getattr(model, "compiled", False):
        raise TrialFailed(
            "build(hp) returned a model that is not compiled; call model.compile(optimizer, loss, "
            "metrics=[...]) before returning it, as KerasTuner requires"
        )
    return Built(model, {f"model.{k}": v for k, v in hp.values.items()}, compiled=True)
