"""Message definitions as data: the ``features.protobuf`` manifest block, parsed and checked.

A schema is plain JSON-able data, so a manifest (or any JSON file) can carry it::

    {"enums": {"Color": {"RED": 0, "BLUE": 1}},
     "messages": {"Point": {"fields": {
         "x": {"number": 1, "type": "double"},
         "tags": {"number": 2, "type": "string", "repeated": true},
         "color": {"number": 3, "type": "Color"},
         "extra": {"number": 4, "type": "map", "key": "string", "value": "Point"},
         "samples": {"number": 5, "type": "bytes", "array": "float32"}}}}}

Field ``type`` is a scalar (:data:`SCALARS`), ``map``, or the name of an enum or message of the
same schema. ``array`` (bytes fields only) packs a numeric sequence as little-endian bytes;
``optional: true`` (proto3 ``optional``) and ``oneof`` members are written even when default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

#: Scalar type → protobuf wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
SCALARS: dict[str, int] = {
    "double": 1, "float": 5, "int32": 0, "int64": 0, "uint32": 0, "uint64": 0, "bool": 0,
    "string": 2, "bytes": 2,
}
#: ``array`` element types of a packed ``bytes`` field → numpy dtype strings (little-endian).
ARRAY_DTYPES: dict[str, str] = {"int32": "<i4", "int64": "<i8", "float32": "<f4", "float64": "<f8"}
MAP_KEYS = ("string", "int32", "int64", "uint32", "uint64", "bool")
_FIELD_KEYS = frozenset({"number", "type", "repeated", "key", "value", "array", "oneof", "optional",
                         "json"})
#: Keys of a field's ``json`` mapping (where its value is found in a JSON-shaped body).
JSON_KEYS = frozenset({"path", "when", "values", "array_from", "const"})


class SchemaError(ValueError):
    """A schema problem; ``problems`` lists ``(json_path, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))


@attrs.frozen(slots=True)
class FieldDef:
    """One field: its name, number and type (``key``/``value`` for maps)."""

    name: str
    number: int
    type: str
    repeated: bool = False
    key: str | None = None
    value: str | None = None
    array: str | None = None
    oneof: str | None = None
    optional: bool = False
    json: Mapping[str, Any] | None = None

    @property
    def has_presence(self) -> bool:
        """Whether the field is written even when it holds its default (oneof or optional)."""
        return self.oneof is not None or self.optional


@attrs.frozen(slots=True)
class MessageDef:
    """A message: fields by name and by number."""

    name: str
    fields: tuple[FieldDef, ...]
    by_number: Mapping[int, FieldDef]
    by_name: Mapping[str, FieldDef]


@attrs.frozen(slots=True)
class Schema:
    """Every enum (name → {label: number}) and message of one schema."""

    enums: Mapping[str, Mapping[str, int]]
    messages: Mapping[str, MessageDef]

    def message(self, name: str) -> MessageDef:
        """A message by name (``KeyError`` naming it when absent)."""
        try:
            return self.messages[name]
        except KeyError:
            raise KeyError(f"protobuf message {name!r} is not defined") from None

    @classmethod
    def from_data(cls, data: Any, path: str = "features.protobuf") -> Schema:
        """Parse and check a schema block; :class:`SchemaError` lists every problem."""
        problems: list[tuple[str, str]] = []
        if not isinstance(data, Mapping):
            raise SchemaError([(path, "must be an object")])
        for key in data:
            if key not in ("enums", "messages"):
                problems.append((f"{path}.{key}", "unknown key (expected enums, messages)"))
        enums = _enums(data.get("enums") or {}, f"{path}.enums", problems)
        raw_messages = data.get("messages") or {}
        if not isinstance(raw_messages, Mapping):
            raise SchemaError([*problems, (f"{path}.messages", "must be an object")])
        names = set(raw_messages) | set(enums)
        messages = {name: _message(name, raw, f"{path}.messages.{name}", names, problems)
                    for name, raw in raw_messages.items()}
        if problems:
            raise SchemaError(problems)
        return cls(enums, messages)


def _enums(raw: Any, path: str, problems: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    if not isinstance(raw, Mapping):
        problems.append((path, "must be an object"))
        return {}
    out: dict[str, dict[str, int]] = {}
    for name, labels in raw.items():
        ok = isinstance(labels, Mapping) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in labels.values())
        if not ok:
            problems.append((f"{path}.{name}", "must map labels to integers"))
            continue
        out[name] = dict(labels)
    return out


def _message(name: str, raw: Any, path: str, names: set[str],
             problems: list[tuple[str, str]]) -> MessageDef:
    fields: list[FieldDef] = []
    raw_fields = raw.get("fields") if isinstance(raw, Mapping) else None
    if not isinstance(raw_fields, Mapping):
        problems.append((f"{path}.fields", "must be an object"))
        raw_fields = {}
    for fname, spec in raw_fields.items():
        field = _field(fname, spec, f"{path}.fields.{fname}", names, problems)
        if field is not None:
            fields.append(field)
    numbers: dict[int, FieldDef] = {}
    for field in fields:
        if field.number in numbers:
            problems.append((f"{path}.fields.{field.name}.number",
                             f"{field.number} is already used by {numbers[field.number].name}"))
        numbers[field.number] = field
    return MessageDef(name, tuple(fields), numbers, {f.name: f for f in fields})


def _field(name: str, spec: Any, path: str, names: set[str],
           problems: list[tuple[str, str]]) -> FieldDef | None:
    if not isinstance(spec, Mapping):
        problems.append((path, "must be an object"))
        return None
    before = len(problems)
    for key in spec:
        if key not in _FIELD_KEYS:
            problems.append((f"{path}.{key}", f"unknown key (expected {', '.join(sorted(_FIELD_KEYS))})"))
    number = spec.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number < 2**29:
        problems.append((f"{path}.number", "must be an integer in [1, 2^29)"))
    ftype = spec.get("type")
    if ftype == "map":
        if spec.get("key") not in MAP_KEYS:
            problems.append((f"{path}.key", f"must be one of {', '.join(MAP_KEYS)}"))
        value = spec.get("value")
        if value == "map" or (value not in SCALARS and value not in names):
            problems.append((f"{path}.value", f"unknown type {value!r}"))
        if spec.get("repeated"):
            problems.append((f"{path}.repeated", "a map cannot be repeated"))
    elif ftype not in SCALARS and ftype not in names:
        problems.append((f"{path}.type", f"unknown type {ftype!r}"))
    array = spec.get("array")
    if array is not None and (ftype != "bytes" or array not in ARRAY_DTYPES):
        problems.append((f"{path}.array", f"only on bytes fields; one of {', '.join(ARRAY_DTYPES)}"))
    oneof = spec.get("oneof")
    if oneof is not None and (not isinstance(oneof, str) or spec.get("repeated") or ftype == "map"):
        problems.append((f"{path}.oneof", "must be a group name on a singular field"))
    mapping = spec.get("json")
    if mapping is not None:
        problems.extend(json_mapping_problems(mapping, f"{path}.json"))
    if len(problems) > before:
        return None
    assert isinstance(number, int) and isinstance(ftype, str)
    return FieldDef(name, number, ftype, bool(spec.get("repeated", False)), spec.get("key"),
                    spec.get("value"), array, oneof, bool(spec.get("optional", False)), mapping)


def json_mapping_problems(mapping: Any, path: str) -> list[tuple[str, str]]:
    """Problems of one field's ``json`` mapping (see :mod:`.mapping`)."""
    if not isinstance(mapping, Mapping):
        return [(path, "must be an object")]
    out = [(f"{path}.{key}", f"unknown key (expected {', '.join(sorted(JSON_KEYS))})")
           for key in mapping if key not in JSON_KEYS]
    if "path" in mapping and not isinstance(mapping["path"], str):
        out.append((f"{path}.path", "must be a dotted path string (or \"$\" for the object itself)"))
    for key in ("when", "values"):
        if key in mapping and not isinstance(mapping[key], Mapping):
            out.append((f"{path}.{key}", "must be an object"))
    if "array_from" in mapping and not isinstance(mapping["array_from"], str):
        out.append((f"{path}.array_from", "must name a sibling key holding the element type"))
    return out
