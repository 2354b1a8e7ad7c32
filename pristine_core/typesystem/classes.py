"""Build frozen, slotted attrs classes for the object types of a manifest."""

from __future__ import annotations

import copy
import keyword
from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.manifest.models import NO_DEFAULT, TypeSchema

GENERATED_MODULE = "pristine_core.typesystem.generated"


def attr_name(prop: str) -> str:
    """The Python attribute for a wire property (keywords get a trailing underscore)."""
    return prop + "_" if keyword.iskeyword(prop) else prop


def _copier(value: Any) -> Any:
    def make() -> Any:
        return copy.deepcopy(value)

    return make


def _default(schema: TypeSchema) -> Any:
    value = schema.default if schema.default is not NO_DEFAULT else schema.const
    if value is NO_DEFAULT:
        return None
    if isinstance(value, (list, dict)):
        return attrs.Factory(_copier(value))
    return value


def build_class(name: str, schema: TypeSchema) -> type:
    """An attrs class for object type ``name``: keyword-only fields, None for absent values."""
    fields = {
        attr_name(prop): attrs.field(default=_default(prop_schema), kw_only=True)
        for prop, prop_schema in schema.properties.items()
    }
    cls = attrs.make_class(name, fields, frozen=True, slots=True)
    cls.__module__ = GENERATED_MODULE
    cls.__doc__ = schema.description or f"The manifest type ``{name}``."
    return cls


def is_class_type(types: Mapping[str, TypeSchema], name: str) -> bool:
    """True when ``name`` is an object type with declared properties (it gets a class)."""
    schema = types.get(name)
    return schema is not None and schema.type == "object" and bool(schema.properties)
