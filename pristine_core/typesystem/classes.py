"""Build frozen, slotted attrs classes for the object types of a manifest."""

from __future__ import annotations

import copy
import functools
import keyword
import threading
from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.manifest.models import NO_DEFAULT, TypeSchema

GENERATED_MODULE = "pristine_core.typesystem.generated"
_CACHE_SIZE = 2048
#: Classes already built for a (name, schema object): clients sharing one loaded manifest share its
#: classes instead of rebuilding them (class creation dominated client construction).
_built: dict[tuple[str, int], tuple[TypeSchema, type]] = {}
_built_lock = threading.Lock()


def attr_name(prop: str) -> str:
    """The Python attribute for a wire property (keywords get a trailing underscore)."""
    return prop + "_" if keyword.iskeyword(prop) else prop


def _default(schema: TypeSchema) -> Any:
    value = schema.default if schema.default is not NO_DEFAULT else schema.const
    if value is NO_DEFAULT:
        return None
    if isinstance(value, (list, dict)):
        return attrs.Factory(functools.partial(copy.deepcopy, value))
    return value


def build_class(name: str, schema: TypeSchema) -> type:
    """An attrs class for object type ``name``: keyword-only fields, None for absent values.

    The class is built once per schema object (the same loaded manifest gives the same classes).
    """
    key = (name, id(schema))
    with _built_lock:
        hit = _built.get(key)
    if hit is not None and hit[0] is schema:
        return hit[1]
    cls = _make_class(name, schema)
    with _built_lock:
        if len(_built) >= _CACHE_SIZE:
            _built.pop(next(iter(_built)))
        _built[key] = (schema, cls)
    return cls


def _make_class(name: str, schema: TypeSchema) -> type:
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
