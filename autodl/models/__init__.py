"""Model families by name; each module owns one family's builder and the data kinds it accepts."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from autodl.data.dataset import Dataset
from autodl.errors import SpecError
from autodl.models import cnn, mlp, rnn

FAMILIES: dict[str, ModuleType] = {"cnn": cnn, "rnn": rnn, "mlp": mlp}


def get(name: str) -> ModuleType:
    """The family module called ``name``; the error lists the valid names."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise SpecError(
            f"Unknown model family. Expected one of {', '.join(FAMILIES)}. Received: "
            f"model.family={name!r}"
        ) from None


def _either(kinds: tuple[str, ...]) -> str:
    return kinds[0] if len(kinds) == 1 else f"{', '.join(kinds[:-1])} or {kinds[-1]}"


def check_fits(section: Any, data: Dataset) -> None:
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
    """Build the uncompiled Keras model for one sampled ``model`` section."""
    return get(model_cfg["family"]).build(model_cfg, data)
