"""Validate caller values against a type schema and convert them to and from wire JSON.

``to_wire`` is strict (unknown fields are errors): it guards requests. ``from_wire`` is lenient
(unknown fields are ignored) so that servers may add fields without breaking clients. Both
collect every problem with its field path instead of stopping at the first.
"""

from __future__ import annotations

import base64
import enum
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from pristine_core.manifest.models import NO_DEFAULT, TypeSchema
from pristine_core.typesystem.classes import attr_name

Errors = list[tuple[str, str]]
#: Builds an instance of a named object type from validated field values (or None: keep a dict).
ClassLookup = Callable[[str], "type | None"]

_MISSING = object()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__


def _get(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name, _MISSING)
    return getattr(value, attr_name(name), _MISSING)


def _resolve(types: Mapping[str, TypeSchema], schema: TypeSchema) -> TypeSchema:
    seen = 0
    while schema.ref is not None and seen < 64:
        schema = types[schema.ref]
        seen += 1
    return schema


def _scalar(schema: TypeSchema, value: Any, path: str, errors: Errors) -> Any:
    kind = schema.type
    if isinstance(value, enum.Enum):
        value = value.value
    if kind == "string":
        if isinstance(value, (bytes, bytearray)) and schema.format == "base64":
            value = base64.b64encode(bytes(value)).decode("ascii")
        if not isinstance(value, str):
            errors.append((path, f"expected a string, got {_describe(value)}"))
            return _MISSING
        if schema.min_length is not None and len(value) < schema.min_length:
            errors.append((path, f"must be at least {schema.min_length} characters"))
        if schema.max_length is not None and len(value) > schema.max_length:
            errors.append((path, f"must be at most {schema.max_length} characters"))
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                errors.append((path, f"expected an integer, got {_describe(value)}"))
                return _MISSING
        value = int(value)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            errors.append((path, f"expected a number, got {_describe(value)}"))
            return _MISSING
        value = value if isinstance(value, int) else float(value)
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append((path, f"expected true or false, got {_describe(value)}"))
            return _MISSING
    if kind in ("integer", "number"):
        if schema.minimum is not None and value < schema.minimum:
            errors.append((path, f"must be >= {schema.minimum:g}"))
        if schema.maximum is not None and value > schema.maximum:
            errors.append((path, f"must be <= {schema.maximum:g}"))
    if schema.enum is not None and value not in schema.enum:
        errors.append((path, "must be one of " + ", ".join(map(str, schema.enum))))
    if schema.const is not NO_DEFAULT and value != schema.const:
        errors.append((path, f"must be {schema.const!r}"))
    return value


class Walker:
    """One conversion direction over a set of named types."""

    def __init__(self, types: Mapping[str, TypeSchema], *, strict: bool, classes: ClassLookup | None):
        self.types = types
        self.strict = strict
        self.classes = classes

    def convert(self, schema: TypeSchema, value: Any, path: str, errors: Errors, name: str | None = None) -> Any:
        """Convert ``value``; append problems to ``errors``; return the result (or ``_MISSING``)."""
        if schema.ref is not None:
            name = schema.ref
            schema = _resolve(self.types, schema)
        if value is None:
            if schema.nullable or schema.type == "any":
                return None
            errors.append((path, "must not be null"))
            return _MISSING
        if schema.one_of:
            return self._union(schema, value, path, errors)
        kind = schema.type
        if kind == "object":
            return self._object(schema, value, path, errors, name)
        if kind == "array":
            if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
                errors.append((path, f"expected an array, got {_describe(value)}"))
                return _MISSING
            item = schema.items or TypeSchema(type="any")
            out = [self.convert(item, v, f"{path}[{i}]", errors) for i, v in enumerate(value)]
            if schema.min_length is not None and len(out) < schema.min_length:
                errors.append((path, f"must have at least {schema.min_length} items"))
            return out
        if kind == "any" or kind is None:
            return value
        return _scalar(schema, value, path, errors)

    def _union(self, schema: TypeSchema, value: Any, path: str, errors: Errors) -> Any:
        tag_field = schema.discriminator or "type"
        tag = _get(value, tag_field)
        for variant in schema.one_of:
            target = _resolve(self.types, variant)
            tag_schema = target.properties.get(tag_field)
            cls = self.classes(variant.ref) if (self.classes and variant.ref) else None
            if tag is _MISSING:
                if cls is not None and isinstance(value, cls):
                    return self.convert(variant, value, path, errors)
                continue
            if tag_schema is not None and (tag_schema.const == tag or (tag_schema.enum and tag in tag_schema.enum)):
                return self.convert(variant, value, path, errors)
        if tag is _MISSING:
            errors.append((_join(path, tag_field), "required discriminator is missing"))
        else:
            errors.append((_join(path, tag_field), f"unknown variant {tag!r}"))
        return _MISSING

    def _object(self, schema: TypeSchema, value: Any, path: str, errors: Errors, name: str | None) -> Any:
        cls = self.classes(name) if (self.classes and name) else None
        if not schema.properties and schema.additional_properties is not False:
            return self._map(schema, value, path, errors)
        is_mapping = isinstance(value, Mapping)
        if not is_mapping and not (
            hasattr(value, "__attrs_attrs__") or hasattr(value, "__dict__") or hasattr(value, "__slots__")
        ):
            errors.append((path, f"expected an object, got {_describe(value)}"))
            return _MISSING
        out: dict[str, Any] = {}
        for prop, prop_schema in schema.properties.items():
            raw = _get(value, prop)
            at = _join(path, prop)
            nullable = prop_schema.nullable or self._resolved_nullable(prop_schema)
            if raw is None and not nullable:
                raw = _MISSING
            if raw is _MISSING:
                if prop_schema.default is not NO_DEFAULT:
                    raw = prop_schema.default
                elif prop_schema.const is not NO_DEFAULT:
                    raw = prop_schema.const
                elif prop in schema.required:
                    errors.append((at, "required field is missing"))
                    continue
                else:
                    continue
            if raw is None:
                if not self.strict or prop_schema.explicit_null or prop in schema.required:
                    out[prop] = None
                continue
            converted = self.convert(prop_schema, raw, at, errors)
            if converted is not _MISSING:
                out[prop] = converted
        if is_mapping and self.strict:
            extra = [k for k in value if k not in schema.properties]
            if extra:
                if schema.additional_properties is False:
                    for key in extra:
                        errors.append((_join(path, str(key)), "unknown field"))
                elif isinstance(schema.additional_properties, TypeSchema):
                    for key in extra:
                        out[key] = self.convert(schema.additional_properties, value[key], _join(path, str(key)), errors)
                else:
                    for key in extra:
                        out[key] = value[key]
        if cls is not None and not self.strict:
            try:
                return cls(**{attr_name(k): v for k, v in out.items() if k in schema.properties})
            except (TypeError, ValueError) as exc:
                errors.append((path, f"cannot build {cls.__name__}: {exc}"))
                return _MISSING
        return out

    def _resolved_nullable(self, schema: TypeSchema) -> bool:
        return schema.ref is not None and _resolve(self.types, schema).nullable

    def _map(self, schema: TypeSchema, value: Any, path: str, errors: Errors) -> Any:
        if not isinstance(value, Mapping):
            errors.append((path, f"expected an object, got {_describe(value)}"))
            return _MISSING
        item = schema.additional_properties if isinstance(schema.additional_properties, TypeSchema) else None
        out = {}
        for key, raw in value.items():
            if not isinstance(key, str):
                errors.append((path, f"keys must be strings, got {_describe(key)}"))
                continue
            out[key] = raw if item is None else self.convert(item, raw, _join(path, key), errors)
        return out


def to_wire(types: Mapping[str, TypeSchema], schema: TypeSchema, value: Any, path: str = "") -> tuple[Any, Errors]:
    """Strictly validate ``value`` and return ``(wire_json, errors)``."""
    errors: Errors = []
    result = Walker(types, strict=True, classes=None).convert(schema, value, path, errors)
    return result, errors


def from_wire(
    types: Mapping[str, TypeSchema], schema: TypeSchema, data: Any, classes: ClassLookup | None, path: str = ""
) -> tuple[Any, Errors]:
    """Leniently parse wire JSON into instances of the registry's classes."""
    errors: Errors = []
    result = Walker(types, strict=False, classes=classes).convert(schema, data, path, errors)
    return result, errors


MISSING = _MISSING
