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

The block's shape is the typed settings of :mod:`.spec` (structured by the core's converter,
which names the JSON path of an unknown key or a wrong value); this module adds the checks
structure cannot make (types that must exist, unique numbers, keys that go together) and
builds the runtime :class:`Schema` the codec and the mappers read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.contract import structure_as
from pristine_core.errors import ValidationError

from .spec import FieldSpec, JsonMapping, MessageResult, MessageSpec, ProtobufSchemaSpec, ResultMapping

#: Scalar type → protobuf wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
SCALARS: dict[str, int] = {
    "double": 1, "float": 5, "int32": 0, "int64": 0, "uint32": 0, "uint64": 0, "bool": 0,
    "string": 2, "bytes": 2,
}
#: ``array`` element types of a packed ``bytes`` field → numpy dtype strings (little-endian).
ARRAY_DTYPES: dict[str, str] = {"int32": "<i4", "int64": "<i8", "float32": "<f4", "float64": "<f8"}
MAP_KEYS = ("string", "int32", "int64", "uint32", "uint64", "bool")

Problems = list[tuple[str, str]]


class SchemaError(ValueError):
    """A schema problem; ``problems`` lists ``(json_path, message)`` pairs."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))


@attrs.frozen(slots=True)
class FieldDef:
    """One field: its name, number and type (``key``/``value`` for maps), and its mappings."""

    name: str
    number: int
    type: str
    repeated: bool = False
    key: str | None = None
    value: str | None = None
    array: str | None = None
    oneof: str | None = None
    optional: bool = False
    json: JsonMapping | None = None
    result: ResultMapping | None = None

    @property
    def has_presence(self) -> bool:
        """Whether the field is written even when it holds its default (oneof or optional)."""
        return self.oneof is not None or self.optional


@attrs.frozen(slots=True)
class MessageDef:
    """A message: fields by name and by number, and its whole-message result rule."""

    name: str
    fields: tuple[FieldDef, ...]
    by_number: Mapping[int, FieldDef]
    by_name: Mapping[str, FieldDef]
    result: MessageResult | None = None


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
        """Structure and check a schema block; :class:`SchemaError` lists every problem."""
        try:
            spec = structure_as(ProtobufSchemaSpec, data, path)
        except ValidationError as exc:
            raise SchemaError(exc.errors) from None
        return cls.from_spec(spec, path)

    @classmethod
    def from_spec(cls, spec: ProtobufSchemaSpec, path: str = "features.protobuf") -> Schema:
        """Check a structured block's references; :class:`SchemaError` lists every problem."""
        problems: Problems = []
        names = set(spec.messages) | set(spec.enums)
        messages = {name: _message(name, mspec, f"{path}.messages.{name}", spec, names, problems)
                    for name, mspec in spec.messages.items()}
        if problems:
            raise SchemaError(problems)
        return cls({k: dict(v) for k, v in spec.enums.items()}, messages)


def _message(name: str, spec: MessageSpec, path: str, schema: ProtobufSchemaSpec, names: set[str],
             problems: Problems) -> MessageDef:
    fields = [_field(fname, fspec, f"{path}.fields.{fname}", schema, names, problems)
              for fname, fspec in spec.fields.items()]
    numbers: dict[int, FieldDef] = {}
    for field in fields:
        if field.number in numbers:
            problems.append((f"{path}.fields.{field.name}.number",
                             f"{field.number} is already used by {numbers[field.number].name}"))
        numbers[field.number] = field
    by_name = {f.name: f for f in fields}
    for field in fields:
        source = field.result.array_from if field.result is not None else None
        if source is None:
            continue
        sibling = by_name.get(source)
        enum = schema.enums.get(sibling.type) if sibling is not None else None
        if enum is None:
            problems.append((f"{path}.fields.{field.name}.result.array_from",
                             f"{source!r} must be an enum field of this message"))
            continue
        for label in field.result.dtypes:  # type: ignore[union-attr]
            if label not in enum:
                problems.append((f"{path}.fields.{field.name}.result.dtypes.{label}",
                                 f"is not a label of enum {sibling.type}"))  # type: ignore[union-attr]
    if spec.result is not None:
        problems.extend(_message_result_problems(spec.result, f"{path}.result", by_name, schema))
    return MessageDef(name, tuple(fields), numbers, by_name, spec.result)


def _field(name: str, spec: FieldSpec, path: str, schema: ProtobufSchemaSpec, names: set[str],
           problems: Problems) -> FieldDef:
    if not 1 <= spec.number < 2**29:
        problems.append((f"{path}.number", "must be an integer in [1, 2^29)"))
    if spec.type == "map":
        if spec.key not in MAP_KEYS:
            problems.append((f"{path}.key", f"must be one of {', '.join(MAP_KEYS)}"))
        if spec.value == "map" or (spec.value not in SCALARS and spec.value not in names):
            problems.append((f"{path}.value", f"unknown type {spec.value!r}"))
        if spec.repeated:
            problems.append((f"{path}.repeated", "a map cannot be repeated"))
    elif spec.type not in SCALARS and spec.type not in names:
        problems.append((f"{path}.type", f"unknown type {spec.type!r}"))
    if spec.array is not None and spec.type != "bytes":
        problems.append((f"{path}.array", f"only on bytes fields; one of {', '.join(ARRAY_DTYPES)}"))
    if spec.oneof is not None and (spec.repeated or spec.type == "map"):
        problems.append((f"{path}.oneof", "must be a group name on a singular field"))
    enum = schema.enums.get(spec.type)
    if spec.json is not None and enum is not None:
        for value, label in spec.json.values.items():
            if label not in enum:
                problems.append((f"{path}.json.values.{value}", f"{label!r} is not a label of enum {spec.type}"))
    if spec.result is not None and spec.result.values and enum is None:
        problems.append((f"{path}.result.values", "only on enum fields"))
    if spec.result is not None and spec.result.concat and not spec.repeated:
        problems.append((f"{path}.result.concat", "only on repeated fields"))
    if spec.result is not None and spec.result.array_from is not None and spec.type != "bytes":
        problems.append((f"{path}.result.array_from", "only on bytes fields"))
    return FieldDef(name, spec.number, spec.type, spec.repeated, spec.key, spec.value, spec.array,
                    spec.oneof, spec.optional, spec.json, spec.result)


def _message_result_problems(rule: MessageResult, path: str, fields: Mapping[str, FieldDef],
                             schema: ProtobufSchemaSpec) -> Problems:
    out: Problems = []
    if sum(x is not None for x in (rule.split, rule.transpose, rule.rows)) > 1:
        out.append((path, "give one of split, transpose, rows"))
    split = rule.split
    if split is not None:
        wanted = {"data": "bytes", "offsets": "bytes", "dtype": None, "trailing_shape": None}
        for role, ftype in wanted.items():
            name = getattr(split, role)
            field = fields.get(name) if name is not None else None
            if name is not None and field is None:
                out.append((f"{path}.split.{role}", f"{name!r} is not a field of this message"))
            elif field is not None and ftype is not None and field.type != ftype:
                out.append((f"{path}.split.{role}", f"{name!r} must be a bytes field"))
        offsets = fields.get(split.offsets)
        if offsets is not None and offsets.array != "int64":
            out.append((f"{path}.split.offsets", f"{split.offsets!r} must be an int64 array field"))
        dtype = fields.get(split.dtype)
        enum = schema.enums.get(dtype.type) if dtype is not None else None
        if dtype is not None and enum is None:
            out.append((f"{path}.split.dtype", f"{split.dtype!r} must be an enum field"))
        for label in split.dtypes:
            if enum is not None and label not in enum:
                out.append((f"{path}.split.dtypes.{label}", f"is not a label of enum {dtype.type}"))  # type: ignore[union-attr]
    if rule.rows is not None:
        rows = rule.rows
        for i, name in enumerate(rows.columns):
            field = fields.get(name)
            if field is None or field.array is None:
                out.append((f"{path}.rows.columns[{i}]", f"{name!r} must be an array field of this message"))
        for role in ("width", "count"):
            field = fields.get(getattr(rows, role))
            if field is None or field.type not in ("int32", "int64", "uint32", "uint64") or field.repeated:
                out.append((f"{path}.rows.{role}", f"{getattr(rows, role)!r} must be an integer field of this message"))
        if rows.pad is not None and len(rows.pad) != len(rows.columns):
            out.append((f"{path}.rows.pad", f"needs one value per column ({len(rows.columns)})"))
    if rule.transpose is not None:
        field = fields.get(rule.transpose)
        if field is None or field.type != "map":
            out.append((f"{path}.transpose", f"{rule.transpose!r} must be a map field of this message"))
    return out
