"""The ``features.protobuf`` block as typed settings, structured by the core's converter.

These attrs classes are the shape of the block (and of an endpoint's ``fields`` overrides): the
core's strict converter reports unknown keys and wrong kinds of values with their JSON paths
(``features.protobuf.messages.M.fields.f.json.where: unknown key``). What structure cannot see
(type names that must exist, unique field numbers, which keys combine) is checked by
:mod:`.schema` when it builds the runtime :class:`~.schema.Schema`.

Two kinds of mapping sit next to a field's wire definition:

- ``json`` (request side, :class:`JsonMapping`): where the field's value is in the JSON-shaped
  body the endpoint validated (see :mod:`.mapping`);
- ``result`` (result side, :class:`ResultMapping`, and a message's :class:`MessageResult`): how
  a decoded reply is reshaped into the JSON-shaped data the endpoint's result type parses (see
  :mod:`.results`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from pristine_core.contract import non_empty, settings


class _Unset:
    """The marker of a ``const`` that was not given (``null`` is a valid constant)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

#: Element types of a packed numeric ``bytes`` field.
ArrayType = Literal["int32", "int64", "float32", "float64"]


@settings
class JsonMapping:
    """Where a field's value is in a JSON-shaped request body.

    ``path`` (dotted; ``"$"`` is the object itself; default the field's name), ``when`` (only
    when the object has these values, e.g. the oneof member a discriminator chooses),
    ``values`` (JSON value → enum label), ``array_from`` (pack a numeric list as the element
    type named by that sibling key), ``const`` (a fixed value).
    """

    path: str | None = attrs.field(default=None, validator=non_empty)
    when: Mapping[str, Any] = attrs.Factory(dict)
    values: Mapping[str, str] = attrs.Factory(dict)
    array_from: str | None = attrs.field(default=None, validator=non_empty)
    const: Any = UNSET

    @property
    def has_const(self) -> bool:
        """Whether ``const`` was given."""
        return self.const is not UNSET


@settings
class ResultMapping:
    """How a decoded field appears in the JSON-shaped result.

    ``name`` (its JSON key; default the field's name), ``omit`` (leave it out), ``values``
    (enum label → JSON value), ``nan_to_null`` (NaN elements of a numeric array become
    ``null``), ``concat`` (a repeated field whose items each reshape into a list becomes one
    list: the items' lists joined in order), ``array_from`` with ``dtypes`` (a bytes field
    holding a numeric array whose element type is named by a sibling enum field, through
    ``dtypes``: enum label → element type).
    """

    name: str | None = attrs.field(default=None, validator=non_empty)
    omit: bool = False
    values: Mapping[str, Any] = attrs.Factory(dict)
    nan_to_null: bool = False
    concat: bool = False
    array_from: str | None = attrs.field(default=None, validator=non_empty)
    dtypes: Mapping[str, ArrayType] = attrs.Factory(dict)


@settings
class SplitRule:
    """A batched message that holds N items packed end to end becomes a list of N items.

    ``data`` names the bytes field with every item's elements concatenated, ``offsets`` the
    field with N+1 **byte** offsets into it (an ``array`` of int64), ``dtype`` the enum field
    naming the element type, mapped to an array type through ``dtypes`` (enum label → element
    type), and ``trailing_shape`` (optional) the repeated field with each item's dimensions
    after the first. Each item is an object ``{<data_key>: [...], <dtype_key>: <element type>,
    <shape_key>: [n, *trailing]}``.
    """

    data: str = attrs.field(validator=non_empty)
    offsets: str = attrs.field(validator=non_empty)
    dtype: str = attrs.field(validator=non_empty)
    dtypes: Mapping[str, ArrayType] = attrs.Factory(dict)
    trailing_shape: str | None = attrs.field(default=None, validator=non_empty)
    data_key: str = attrs.field(default="data", validator=non_empty)
    dtype_key: str = attrs.field(default="dtype", validator=non_empty)
    shape_key: str = attrs.field(default="shape", validator=non_empty)


@settings
class RowsRule:
    """A message holding a row-major matrix per column becomes a list of rows of tuples.

    ``columns`` names the array fields read together (each ``count`` x ``width`` elements),
    ``width`` and ``count`` the integer fields giving the matrix's size. Row ``i`` becomes
    ``[[c0, c1, ...], ...]`` (one list per position); trailing positions equal to ``pad`` (one
    value per column) are dropped and a row of nothing but padding becomes ``null``. A matrix
    with no rows or no columns becomes ``null``.
    """

    columns: tuple[str, ...] = attrs.field(validator=non_empty)
    width: str = attrs.field(validator=non_empty)
    count: str = attrs.field(validator=non_empty)
    pad: tuple[Any, ...] | None = None


@settings
class MessageResult:
    """How a whole decoded message is reshaped (at most one rule).

    ``split`` (:class:`SplitRule`): a batched message becomes the list of its items.
    ``transpose``: names a map field whose values each reshape into a list of the same length
    N; the message becomes the list of N objects ``{key: value[i]}`` (columns to rows).
    ``rows`` (:class:`RowsRule`): matrices stored as flat columns become a list of rows.
    """

    split: SplitRule | None = None
    transpose: str | None = attrs.field(default=None, validator=non_empty)
    rows: RowsRule | None = None


@settings
class FieldSpec:
    """One field: its number and type (``key``/``value`` for maps), and its mappings."""

    number: int
    type: str = attrs.field(validator=non_empty)
    repeated: bool = False
    key: str | None = None
    value: str | None = None
    array: ArrayType | None = None
    oneof: str | None = attrs.field(default=None, validator=non_empty)
    optional: bool = False
    json: JsonMapping | None = None
    result: ResultMapping | None = None


@settings
class MessageSpec:
    """A message: its fields by name, and how the whole message reshapes into a result."""

    fields: Mapping[str, FieldSpec]
    result: MessageResult | None = None


@settings
class ProtobufSchemaSpec:
    """The ``features.protobuf`` block: enums (name → {label: number}) and messages."""

    enums: Mapping[str, Mapping[str, int]] = attrs.Factory(dict)
    messages: Mapping[str, MessageSpec] = attrs.Factory(dict)
