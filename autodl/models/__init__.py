"""Model families by name; each module owns one family's builder and the data kinds it accepts."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from autodl.data.dataset import Dataset
from autodl.errors import AutodlError, SpecError
from autodl.models import cnn, custom, mlp, rnn
from autodl.models.base import Built, ModelBuilder
from autodl.outcome import Suggest
from autodl.spec.sections import FAMILIES, ModelSpec

BUILDERS: dict[str, ModuleType] = FAMILIES.bind({"cnn": cnn, "rnn": rnn, "mlp": mlp, "custom": custom})
"""The module that builds each family of the spec's family registry."""


def get(name: str) -> ModuleType:
    """The family module called ``name``; the error lists the valid names."""
    return BUILDERS[FAMILIES.get(name).name]


def _either(kinds: tuple[str, ...]) -> str:
    return kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"


def check_fits(section: ModelSpec, data: Dataset) -> None:
    """Fail before any training when the model section cannot work on this data."""
    family = section.family
    module = get(family)
    kinds = module.DATA_KINDS
    if data.kind not in kinds:
        raise SpecError(
            f"model.family {family} takes {_either(kinds)} data, but {data.name} is "
            f"{data.kind} data. Received: model.family={family!r}"
        )
    if hasattr(module, "check"):
        module.check(section, data)


def build_model(model_cfg: dict[str, Any], data: Dataset) -> Any:
    """Build the uncompiled Keras model of a built-in family for one sampled ``model`` section."""
    return get(model_cfg["family"]).build(model_cfg, data)


def build_builtin(model_cfg: dict[str, Any], data: Dataset, suggest: Suggest | None) -> Built:
    """The ``ModelBuilder`` of the built-in families: everything comes from the sampled config."""
    return Built(build_model(model_cfg, data))


def builder(section: ModelSpec, base_dir: Path) -> ModelBuilder:
    """How to build each trial's model for a spec's ``model`` section.

    A custom family imports the user's module here, once, when the search starts.
    """
    if section.family != "custom":
        return build_builtin
    user_build = custom.load_builder(section.build, base_dir)

    def build_custom(cfg: dict[str, Any], data: Dataset, suggest: Suggest | None) -> Built:
        if suggest is None:
            raise AutodlError(
                "model.family custom: build(hp) samples its hyperparameters through a trial's "
                "suggest function, but this model was built without one"
            )
        return custom.build(user_build, suggest)

    return build_custom
