"""From a JSON-shaped body to a message: each field may say where its value is.

A field's optional ``json`` mapping (in the schema, or per endpoint for top-level fields)::

    "path": "input.data"      dotted path in the JSON object (default: the field's name;
                              "$" means the object itself, e.g. for a oneof member)
    "when": {"type": "text"}  only when the JSON object has these values (oneof members)
    "values": {"int64": "DTYPE_INT64"}   JSON value → enum label
    "array_from": "dtype"     a numeric list packed as the element type named by that key
    "const": true             a fixed value

Fields whose value is absent are left out. Lists of objects map item by item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pristine_core.contract import structure_as

from .codec import EncodeError, _np
from .schema import ARRAY_DTYPES, FieldDef, MessageDef, Schema
from .spec import JsonMapping

_MISSING = object()
_PLAIN = JsonMapping()

#: Per-endpoint overrides of top-level fields: typed, or plain dicts (structured on use).
Overrides = Mapping[str, "JsonMapping | Mapping[str, Any]"]


def _typed(overrides: Overrides | None) -> dict[str, JsonMapping]:
    out: dict[str, JsonMapping] = {}
    for name, mapping in (overrides or {}).items():
        out[name] = mapping if isinstance(mapping, JsonMapping) else structure_as(
            JsonMapping, mapping, f"fields.{name}")
    return out


def _dig(value: Any, path: str) -> Any:
    if path == "$":
        return value
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


class JsonMapper:
    """Builds message dicts (for :meth:`Codec.encode`) from JSON-shaped data."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def to_message(self, message: str, body: Any, fields: Overrides | None = None) -> dict[str, Any]:
        """``body`` mapped onto ``message``; ``fields`` overrides top-level field mappings."""
        return self._message(self.schema.message(message), body, "", _typed(fields))

    def _message(self, mdef: MessageDef, src: Any, path: str,
                 overrides: Mapping[str, JsonMapping]) -> dict[str, Any]:
        if not isinstance(src, Mapping):
            raise EncodeError(path, f"expected an object for message {mdef.name}")
        out: dict[str, Any] = {}
        for field in mdef.fields:
            spec = overrides.get(field.name) or field.json or _PLAIN
            when = spec.when
            if when and any(src.get(k) != v for k, v in when.items()):
                continue
            if spec.has_const:
                out[field.name] = spec.const
                continue
            where = spec.path or field.name
            value = _dig(src, where)
            if value is _MISSING or value is None:
                continue
            fpath = f"{path}.{where}" if path else where
            out[field.name] = self._value(field, spec, value, src, fpath)
        return out

    def _value(self, field: FieldDef, spec: JsonMapping, value: Any, src: Mapping[str, Any],
               path: str) -> Any:
        target = field.value if field.type == "map" else field.type
        assert target is not None
        inner = self.schema.messages.get(target)
        if field.type == "map":
            if not isinstance(value, Mapping):
                raise EncodeError(path, "expected an object (map)")
            if inner is None:
                return dict(value)
            return {k: self._message(inner, v, f"{path}.{k}", {}) for k, v in value.items()}
        if field.repeated and inner is not None:
            if not isinstance(value, list):
                raise EncodeError(path, "expected an array")
            return [self._message(inner, item, f"{path}[{i}]", {}) for i, item in enumerate(value)]
        if inner is not None:
            return self._message(inner, value, path, {})
        values = spec.values
        if values and isinstance(value, str):
            if value not in values:
                raise EncodeError(path, f"{value!r} is not one of {', '.join(map(str, values))}")
            return values[value]
        source = spec.array_from
        if source is not None:
            kind = src.get(source)
            if kind not in ARRAY_DTYPES:
                raise EncodeError(path, f"element type {kind!r} (from {source!r}) is not one of "
                                  f"{', '.join(ARRAY_DTYPES)}")
            try:
                return _np().asarray(value, dtype=ARRAY_DTYPES[kind]).ravel().tobytes()
            except (TypeError, ValueError):
                raise EncodeError(path, f"expected a numeric array ({kind})") from None
        return value
