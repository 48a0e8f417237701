"""Pydantic building blocks shared by the spec and the model-family sections.

``hyper(kind)`` declares a spec field that may hold a fixed value or a search distribution; the
JSON Schema it publishes lets editors complete and check both forms.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

from autodl.spec import space

HYPERPARAMETER = object()
"""Marks a field declared with ``hyper()``: a hyperparameter, fixed or searched."""
FACTS = ("data.kind", "data.task", "model.family", "model.embeddings")
"""What a built-in condition may name besides parameters: the data's kind and task (known once
the data is read), the model family, and whether its embeddings are learned or pretrained."""


class Section(BaseModel):
    """A spec section: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    @classmethod
    def applies_when(cls) -> dict[str, space.Conditions]:
        """Built-in conditions of this section's hyperparameters, by field name: when each one is
        in effect (a section without any has none)."""
        return {}

    @classmethod
    def hyperparameters(cls) -> list[str]:
        """Names of the fields declared with ``hyper()``."""
        return [
            name for name, field in cls.model_fields.items()
            if any(item is HYPERPARAMETER for item in field.metadata)
        ]

    def searched(self, prefix: str) -> dict[str, space.Distribution]:
        """The hyperparameters of this section that are distributions, keyed by dotted name."""
        return {
            f"{prefix}.{name}": getattr(self, name)
            for name in self.hyperparameters()
            if isinstance(getattr(self, name), space.DISTRIBUTION_TYPES)
        }


def _value_schema(kind: space.ValueKind) -> dict[str, Any]:
    json_type = {int: "integer", float: "number", bool: "boolean", str: "string"}[kind.type]
    schema: dict[str, Any] = {"type": json_type}
    if kind.options is not None:
        schema["enum"] = list(kind.options)
    if kind.minimum is not None:
        schema["minimum"] = kind.minimum
    if kind.maximum is not None:
        schema["maximum"] = kind.maximum
    if kind.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


WHEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Apply only when these parameters (section.field) take one of these values.",
    "additionalProperties": {"anyOf": [{"type": "array", "minItems": 1}, {"not": {"type": "array"}}]},
    "minProperties": 1,
}


def _hyper_schema(kind: space.ValueKind) -> dict[str, Any]:
    value = _value_schema(kind)
    pair = {"type": "array", "items": value, "minItems": 2, "maxItems": 2}
    forms: list[dict[str, Any]] = [
        value,
        {
            "type": "object",
            "properties": {
                "choice": {"type": "array", "items": value, "minItems": 1},
                "when": WHEN_SCHEMA,
            },
            "required": ["choice"],
            "additionalProperties": False,
        },
    ]
    if kind.type is bool:
        forms.append(
            {
                "type": "object",
                "properties": {"bool": {"const": True}, "when": WHEN_SCHEMA},
                "required": ["bool"],
                "additionalProperties": False,
            }
        )
    if kind.type is int:
        forms.append(
            {
                "type": "object",
                "properties": {
                    "int": pair,
                    "step": {"type": "integer", "minimum": 1},
                    "log": {"type": "boolean"},
                    "when": WHEN_SCHEMA,
                },
                "required": ["int"],
                "additionalProperties": False,
            }
        )
    if kind.type is float:
        forms.append(
            {
                "type": "object",
                "properties": {
                    "float": pair,
                    "scale": {"enum": list(space.SCALES)},
                    "step": {"type": "number", "exclusiveMinimum": 0},
                    "when": WHEN_SCHEMA,
                },
                "required": ["float"],
                "additionalProperties": False,
            }
        )
    return {"anyOf": forms}


def hyper(kind: space.ValueKind) -> Any:
    """A field type holding a fixed value of ``kind`` or a distribution over such values."""
    return Annotated[
        Any,
        BeforeValidator(lambda raw: space.parse(raw, kind)),
        WithJsonSchema(_hyper_schema(kind)),
        HYPERPARAMETER,
    ]


def positive_int(minimum: int = 1) -> Any:
    """A searchable integer with a lower bound."""
    return hyper(space.ValueKind(int, minimum=minimum))


def fraction(maximum: float = 1.0) -> Any:
    """A searchable number in [0, maximum]."""
    return hyper(space.ValueKind(float, minimum=0.0, maximum=maximum))


def one_of(*options: str) -> Any:
    """A searchable string from a fixed set of names."""
    return hyper(space.ValueKind(str, options=options))


def flag() -> Any:
    """A searchable true/false switch."""
    return hyper(space.ValueKind(bool))
