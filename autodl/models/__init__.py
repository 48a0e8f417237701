"""Model families by name; each module owns one family's builder and the data kinds it accepts."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from autodl.data.dataset import Dataset
from autodl.errors import AutodlError, SpecError
from autodl.models import cnn, custom, mlp, rnn, transfer
from autodl.models.base import Built, ModelBuilder
from autodl.models.embeddings import open_vectors
from autodl.outcome import Suggest
from autodl.spec.sections import FAMILIES, ModelSpec

BUILDERS: dict[str, ModuleType] = FAMILIES.bind(
    {"cnn": cnn, "rnn": rnn, "mlp": mlp, "transfer": transfer, "custom": custom}
)
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
    embeddings = getattr(section, "embeddings", None)
    if embeddings and data.kind != "text":
        raise SpecError(
            f"model.embeddings: word vectors initialize the Embedding of text, but {data.name} is "
            f"{data.kind} data; remove model.embeddings. Received: model.embeddings={embeddings!r}"
        )
    if hasattr(module, "check"):
        module.check(section, data)


def build_model(model_cfg: dict[str, Any], data: Dataset, **resources: Any) -> Any:
    """Build the uncompiled Keras model of a built-in family for one sampled ``model`` section;
    ``resources`` are what its builder prepared once per search (``resources_for``)."""
    return get(model_cfg["family"]).build(model_cfg, data, **resources)


def build_builtin(model_cfg: dict[str, Any], data: Dataset, suggest: Suggest | None,
                  **resources: Any) -> Built:
    """The ``Built`` of the built-in families: everything comes from the sampled config and the
    search's resources; a family that trains in phases says how (``fine_tuning``)."""
    module = get(model_cfg["family"])
    built = Built(build_model(model_cfg, data, **resources))
    if hasattr(module, "fine_tuning"):
        built.fine_tune = module.fine_tuning(model_cfg, built.model, resources.get("weights", "none"))
    vectors = resources.get("vectors")
    if vectors is not None and vectors.coverage is not None:
        built.facts["embeddings_coverage"] = vectors.coverage
    return built


def resources_for(section: ModelSpec, base_dir: Path) -> dict[str, Any]:
    """What every trial of a built-in family builds with besides its configuration, read and
    checked once per search, before any training: pretrained word vectors, backbone weights."""
    embeddings = getattr(section, "embeddings", None)
    if embeddings:
        return {"vectors": open_vectors(embeddings, base_dir)}
    if hasattr(get(section.family), "resources"):
        return dict(get(section.family).resources(section, base_dir))
    return {}


def builder(section: ModelSpec, base_dir: Path) -> ModelBuilder:
    """How to build each trial's model for a spec's ``model`` section.

    A custom family imports the user's module here, once, when the search starts; a built-in
    family reads its resources (``resources_for``) here.
    """
    if section.family != "custom":
        resources = resources_for(section, base_dir)
        return lambda cfg, data, suggest: build_builtin(cfg, data, suggest, **resources)
    user = custom.load_hypermodel(section.build, base_dir)

    def build_custom(cfg: dict[str, Any], data: Dataset, suggest: Suggest | None) -> Built:
        if suggest is None:
            raise AutodlError(
                "model.family custom: build(hp) samples its hyperparameters through a trial's "
                "suggest function, but this model was built without one"
            )
        return custom.build(user, suggest, data.task if data is not None else None)

    return build_custom
