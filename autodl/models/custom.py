"""Bring your own model: a KerasTuner hypermodel run whole, answered from autodl's Optuna trial.

``model: {family: custom, build: "my_models:build"}`` imports ``my_models`` (from the spec's
folder first) when a search starts, never when a spec is validated. The target is a
``build(hp)`` function, a HyperModel class (made with no arguments) or a HyperModel instance
(``keras_tuner.applications.HyperResNet(input_shape=..., classes=...)``). A HyperModel that
overrides ``fit(self, hp, model, *args, **kwargs)`` is trained through it, called as KerasTuner
calls it: the training inputs as ``*args``, ``validation_data`` and autodl's callbacks (pruning,
early stopping, the NaN guard, tracking) in ``**kwargs``. Each hp call in ``build`` or ``fit``
becomes a parameter ``model.<name>`` of the trial (``hyperparameters.py``), so the hypermodel
gets autodl's sampling, pruning, tracking and export unchanged.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from autodl.errors import SpecError, TrialFailed, first_line
from autodl.models.base import Built
from autodl.models.hyperparameters import DefaultHyperParameters, HyperParameters, TrialHyperParameters
from autodl.outcome import Suggest
from autodl.runtime.backend import load_keras
from autodl.runtime.log import logger

DATA_KINDS = ("image", "text", "tabular", "sequence")
Builder = Callable[[Any], Any]
Fitter = Callable[..., Any]
FIT_DEFAULTS = ("epochs", "initial_epoch", "batch_size", "verbose", "class_weight")
"""``model.fit`` arguments autodl fills in when a hypermodel's ``fit()`` does not pass its own."""


@dataclass(frozen=True)
class UserModel:
    """What ``model.build`` names: its ``build(hp)``, and ``fit(hp, model, *args, **kwargs)`` when
    it is a HyperModel that overrides KerasTuner's default ``fit``."""

    build: Builder
    fit: Fitter | None = None


def _own_fit(found: Any) -> Fitter | None:
    """The object's ``fit`` unless it is KerasTuner's own (which only calls ``model.fit``)."""
    for owner in type(found).__mro__:
        if "fit" in vars(owner):
            return None if owner.__module__.startswith("keras_tuner") else found.fit
    return None


def load_hypermodel(target: str, base_dir: Path) -> UserModel:
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
        try:
            found = found()
        except (Exception, SystemExit) as exc:  # the user's constructor can raise anything, sys.exit too
            raise SpecError(
                f"model.build: {target}() raised {type(exc).__name__}: {first_line(exc)}; a HyperModel class "
                "must be made with no arguments, else name an instance made in the module. "
                f"Received: model.build={target!r}"
            ) from None
    build = getattr(found, "build", found)
    if not callable(build):
        raise SpecError(
            f"model.build: {target} is neither a build(hp) function nor a HyperModel. "
            f"Received: model.build={target!r}"
        )
    return UserModel(build, None if build is found else _own_fit(found))


def _import(module_name: str, target: str) -> ModuleType:
    """The user's module; a missing one, or any error its code raises while it is imported (a
    syntax error, a bad name, a failing import, ``sys.exit()``), is one ``SpecError`` with the file
    and line."""
    try:
        found = importlib.util.find_spec(module_name)
    except ModuleNotFoundError as exc:
        found, missing = None, str(exc)
    except (Exception, SystemExit) as exc:  # a parent package's own code failed
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
    except (Exception, SystemExit) as exc:  # whatever the user's module raises at import, sys.exit too
        raise SpecError(_import_failure(module_name, target, exc, found.origin)) from None


def _import_failure(module_name: str, target: str, exc: BaseException, origin: str | None) -> str:
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


def _raised(what: str, exc: BaseException, code: Callable[..., Any]) -> TrialFailed:
    """A trial failure for an error inside the user's ``build`` or ``fit``, with its file and line."""
    source = getattr(sys.modules.get(getattr(code, "__module__", "")), "__file__", None)
    return TrialFailed(f"{what} raised {type(exc).__name__}: {first_line(exc)} (at {_location(exc, source)})")


def _called(what: str, code: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the user's ``build`` or ``fit``: whatever it raises, ``sys.exit()`` included, fails the
    trial (with the user's file and line) and the search goes on; Ctrl-C still stops the search."""
    try:
        return code(*args, **kwargs)
    except TrialFailed:
        raise
    except (Exception, SystemExit) as exc:  # the user's code can raise anything
        raise _raised(what, exc, code) from exc


def build(user: UserModel, suggest: Suggest, task: str | None = None) -> Built:
    """Call the user's builder with a trial-backed ``hp``; keep the values it samples, in
    ``build`` and later in its own ``fit``.

    An error inside ``build(hp)`` or ``fit`` fails the trial with the user's file and line in its
    reason. A classifier compiled with categorical cross-entropy (one-hot labels, as KerasTuner's
    applications are) is given the sparse form of that loss, since autodl's labels are class
    indices.
    """
    hp = TrialHyperParameters(suggest)
    model = _called("build(hp)", user.build, hp)
    if model is None or not hasattr(model, "fit"):
        raise TrialFailed(f"build(hp) returned {type(model).__name__}, not a Keras model")
    if not getattr(model, "compiled", False):
        raise TrialFailed(
            "build(hp) returned a model that is not compiled; call model.compile(optimizer, loss, "
            "metrics=[...]) before returning it, as KerasTuner requires"
        )
    if task in ("binary", "multiclass"):
        sparse_labels(model)
    params = {f"model.{k}": v for k, v in hp.values.items()}
    fit = HyperFit(user.fit, hp, model, params) if user.fit is not None else None
    return Built(model, params, compiled=True, fit=fit)


def sparse_labels(model: Any) -> None:
    """Compile ``model`` again with sparse categorical cross-entropy when it was compiled with the
    one-hot form; label smoothing needs one-hot labels and fails the trial."""
    keras = load_keras()
    loss = model.loss
    one_hot = loss in ("categorical_crossentropy", keras.losses.categorical_crossentropy) or isinstance(
        loss, keras.losses.CategoricalCrossentropy)
    if not one_hot:
        return
    config = loss.get_config() if isinstance(loss, keras.losses.CategoricalCrossentropy) else {}
    if config.get("label_smoothing"):
        raise TrialFailed("the model is compiled with CategoricalCrossentropy(label_smoothing="
                          f"{config['label_smoothing']}), which needs one-hot labels; autodl's labels are "
                          "class indices: use SparseCategoricalCrossentropy")
    compiled = model.get_compile_config()
    compiled["loss"] = keras.losses.serialize(
        keras.losses.SparseCategoricalCrossentropy(from_logits=bool(config.get("from_logits", False))))
    model.compile_from_config(compiled)


class HyperFit:
    """A HyperModel's own ``fit(hp, model, *args, **kwargs)`` for one trial.

    Called like ``model.fit``: the training inputs go in as ``*args`` (``x, y`` for arrays, one
    dataset when streamed) and ``validation_data`` and ``callbacks`` in ``**kwargs``, as KerasTuner
    passes them. While it runs, ``model.fit`` fills in autodl's epochs, batch size and class
    weights for those arguments the hypermodel does not pass itself, so ``batch_size=hp.Choice(...)``
    or ``epochs=hp.Int(...)`` in its ``fit`` take effect. What it returns (a History, a value, a
    dict of metrics) is kept in ``returned``; parameters it samples are added to ``params``.
    """

    def __init__(self, user_fit: Fitter, hp: HyperParameters, model: Any, params: dict[str, Any]) -> None:
        self._fit, self._hp, self._model, self._params = user_fit, hp, model, params
        self.returned: Any = None

    def __call__(self, inputs: dict[str, Any], **kwargs: Any) -> None:
        model, own = self._model, type(self._model).fit
        args = (inputs["x"], inputs["y"]) if "y" in inputs else (inputs["x"],)
        defaults = {k: v for k, v in {**inputs, **kwargs}.items() if k in FIT_DEFAULTS}
        passed = {k: v for k, v in kwargs.items() if k not in FIT_DEFAULTS}

        def fit_with_defaults(*fit_args: Any, **fit_kwargs: Any) -> Any:
            return own(model, *fit_args, **{**defaults, **fit_kwargs})

        model.fit = fit_with_defaults
        try:
            self.returned = _called("fit(hp, model, ...)", self._fit, self._hp, model, *args, **passed)
        finally:
            del model.fit
            self._params.update({f"model.{k}": v for k, v in self._hp.values.items()})

    def value(self, objective: str) -> float | None:
        """What ``fit`` returned, read as KerasTuner reads it: a History (or nothing) leaves the
        value to autodl's measurement; a number is the objective's value; a dict holds it under
        the objective's name (``dev_accuracy``) or Keras's (``val_accuracy``)."""
        returned = self.returned
        if returned is None or hasattr(returned, "history"):
            return None
        if isinstance(returned, (int, float)) and not isinstance(returned, bool):
            return float(returned)
        if isinstance(returned, dict):
            keras_name = "val_" + objective.removeprefix("dev_")
            for key in (objective, keras_name):
                if key in returned:
                    return float(returned[key])
            raise TrialFailed(f"fit(hp, model, ...) returned metrics {sorted(returned)} without {objective} "
                              f"(or {keras_name}), the search's objective")
        raise TrialFailed(f"fit(hp, model, ...) returned {type(returned).__name__}; KerasTuner's fit returns "
                          "a History, a number (the objective's value) or a dict of metrics")


def defaults(user: UserModel) -> DefaultHyperParameters:
    """Every parameter of the hypermodel at its default: ``build(hp)`` called with them, and its own
    ``fit`` with a stand-in model that does not train (so the parameters ``fit`` samples are seen).
    A ``fit`` that needs real data raises and is then left out, with a notice."""
    hp = DefaultHyperParameters()
    _called("build(hp)", user.build, hp)
    if user.fit is not None:
        try:
            user.fit(hp, _StandIn())
        except (Exception, SystemExit) as exc:  # a fit that reads its data cannot run on the stand-in
            logger.info("the defaults of fit(hp, model, ...) are not known: without data it raised %s: %s",
                        type(exc).__name__, first_line(exc))
    return hp


class _StandIn:
    """A model whose ``fit`` does nothing, for reading a hypermodel's ``fit`` defaults."""

    def fit(self, *args: Any, **kwargs: Any) -> None:
        return None
