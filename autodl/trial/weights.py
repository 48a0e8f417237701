"""Class weights for imbalanced classification (``training.class_weight``): each training
example's loss is scaled by its class's weight, so a rare class counts as much as it should."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from autodl.data.dataset import Dataset
from autodl.errors import SpecError


def class_weights(setting: str | Mapping[str, float] | None, data: Dataset) -> dict[int, float] | None:
    """Keras's ``class_weight`` for ``setting``: ``None`` for none; ``balanced`` gives each class
    ``n / (k * n_class)`` on train (scikit-learn's rule); a mapping gives the named classes its
    weights and the others 1."""
    if setting is None or setting == "none":
        return None
    if data.task == "regression":
        raise SpecError(f"training.class_weight weighs classes, but {data.name} is a regression task; "
                        f"remove it. Received: training.class_weight={setting!r}")
    names = list(data.class_names)
    if setting == "balanced":
        counts = np.bincount(np.asarray(data.train.y).astype(int).reshape(-1), minlength=len(names))
        total = float(counts.sum())
        return {i: total / (len(names) * float(c)) if c else 1.0 for i, c in enumerate(counts)}
    if not isinstance(setting, Mapping):
        raise SpecError(f"training.class_weight: expected none, balanced or a mapping of class to weight. "
                        f"Received: training.class_weight={setting!r}")
    unknown = [label for label in setting if str(label) not in names]
    if unknown:
        raise SpecError(f"training.class_weight: {', '.join(map(repr, unknown))} "
                        f"{'is not a class' if len(unknown) == 1 else 'are not classes'} of {data.name} "
                        f"(its classes: {', '.join(names)}). Received: training.class_weight={dict(setting)!r}")
    given = {str(label): float(weight) for label, weight in setting.items()}
    return {i: given.get(name, 1.0) for i, name in enumerate(names)}


def fit_weights(training: Mapping[str, Any], data: Dataset) -> dict[str, Any]:
    """The ``class_weight`` keyword of one trial's ``fit``, when its training section sets one."""
    weights = class_weights(training.get("class_weight"), data)
    return {} if weights is None else {"class_weight": weights}
