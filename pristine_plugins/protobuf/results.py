"""From a decoded reply message to the JSON-shaped data an endpoint's result type parses.

The rules are data next to the message definitions (see :mod:`.spec`). Without any, a message
becomes an object of its fields under their own names; numeric arrays become lists, enum
labels stay labels. A field's ``result`` mapping renames it (``name``), drops it (``omit``),
maps enum labels to JSON values (``values``), turns NaN elements into ``null``
(``nan_to_null``), joins the lists its repeated items reshape into (``concat``) or reads bytes
as the element type a sibling enum names (``array_from`` + ``dtypes``). A message's ``result``
rule reshapes the whole message: ``split`` unpacks a batch of items packed end to end (data
bytes + byte offsets + element type + trailing shape) into a list of per-item objects;
``transpose`` turns a map of equally long lists (columns) into a list of objects (rows);
``rows`` turns row-major matrices (one per column) into rows of tuples, padding trimmed.

Example: a batched output of N items as columns, each column one packed tensor::

    "Column": {"fields": {"data": {...bytes}, "offsets": {...int64 array}, "dtype": {...enum},
                          "trailing_shape": {...repeated int64}},
               "result": {"split": {"data": "data", "offsets": "offsets", "dtype": "dtype",
                                    "dtypes": {"DT_F32": "float32"}, "trailing_shape": "trailing_shape"}}},
    "Record": {"fields": {"columns": {"type": "map", "key": "string", "value": "Column", ...}},
               "result": {"transpose": "columns"}},
    "Output": {"fields": {"records": {"type": "Record", "repeated": true, "result": {"concat": true}}}}

decodes ``Output`` into ``{"records": [{"<column>": {"data": [...], "dtype": "float32",
"shape": [n]}}, ...]}``: one object per item, over every record.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from .codec import DecodeError, _np
from .schema import ARRAY_DTYPES, FieldDef, MessageDef, Schema
from .spec import RowsRule, SplitRule


class ResultMapper:
    """Reshapes messages decoded by :meth:`~.codec.Codec.decode` into JSON-shaped data."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def to_json(self, message: str, value: Mapping[str, Any]) -> Any:
        """``value`` (a decoded ``message``) as JSON-shaped data; :class:`DecodeError` names
        the field whose content does not fit its rule."""
        return self._message(self.schema.message(message), value, "")

    def _message(self, mdef: MessageDef, value: Mapping[str, Any], path: str) -> Any:
        rule = mdef.result
        if rule is not None and rule.split is not None:
            return _split(rule.split, value, path)
        if rule is not None and rule.transpose is not None:
            return self._transpose(mdef.by_name[rule.transpose], value, path)
        if rule is not None and rule.rows is not None:
            return _rows(rule.rows, value, path)
        out: dict[str, Any] = {}
        for field in mdef.fields:
            if field.name not in value:
                continue
            mapping = field.result
            if mapping is not None and mapping.omit:
                continue
            name = mapping.name if mapping is not None and mapping.name else field.name
            item = value[field.name]
            if mapping is not None and mapping.array_from is not None:
                item = _typed_array(mapping.array_from, mapping.dtypes, value, item, _join(path, field.name))
            out[name] = self._field(field, item, _join(path, field.name))
        return out

    def _field(self, field: FieldDef, value: Any, path: str) -> Any:
        mapping = field.result
        if field.type == "map":
            assert field.value is not None
            return {k: self._single(field, field.value, v, f"{path}.{k}") for k, v in value.items()}
        if field.repeated:
            items = [self._single(field, field.type, v, f"{path}[{i}]") for i, v in enumerate(value)]
            if mapping is not None and mapping.concat:
                joined: list[Any] = []
                for i, item in enumerate(items):
                    if not isinstance(item, list):
                        raise DecodeError(f"{path}[{i}]", "concat needs items that reshape into lists")
                    joined.extend(item)
                return joined
            return items
        return self._single(field, field.type, value, path)

    def _single(self, field: FieldDef, ftype: str, value: Any, path: str) -> Any:
        inner = self.schema.messages.get(ftype)
        if inner is not None:
            return self._message(inner, value, path)
        mapping = field.result
        if mapping is not None and mapping.values and isinstance(value, str) and value in mapping.values:
            return mapping.values[value]
        if hasattr(value, "tolist"):  # a numpy array of an ``array`` field
            items = value.tolist()
            if mapping is not None and mapping.nan_to_null:
                items = [None if isinstance(x, float) and math.isnan(x) else x for x in items]
            return items
        return value

    def _transpose(self, field: FieldDef, value: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
        columns = self._field(field, value.get(field.name) or {}, _join(path, field.name))
        rows: list[dict[str, Any]] = []
        length: int | None = None
        for key, column in columns.items():
            if not isinstance(column, list):
                raise DecodeError(f"{_join(path, field.name)}.{key}", "transpose needs columns that are lists")
            if length is None:
                length = len(column)
                rows = [{} for _ in range(length)]
            elif len(column) != length:
                raise DecodeError(f"{_join(path, field.name)}.{key}",
                                  f"has {len(column)} items where the other columns have {length}")
            for row, item in zip(rows, column, strict=True):
                row[key] = item
        return rows


def _split(rule: SplitRule, value: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    np = _np()
    label = value.get(rule.dtype)
    kind = rule.dtypes.get(str(label))
    if kind is None:
        raise DecodeError(_join(path, rule.dtype), f"element type {label!r} has no entry in dtypes "
                          f"({', '.join(rule.dtypes) or 'none'})")
    dtype = np.dtype(ARRAY_DTYPES[kind])
    data = value.get(rule.data) or b""
    offsets = np.asarray(value.get(rule.offsets, ()), dtype=np.int64)
    trailing = [int(d) for d in value.get(rule.trailing_shape, ())] if rule.trailing_shape else []
    per_row = int(np.prod(trailing)) if trailing else 1
    if offsets.size == 0:
        if data:
            raise DecodeError(_join(path, rule.offsets), "no offsets for a non-empty data field")
        return []
    if offsets[0] != 0 or offsets[-1] != len(data) or (np.diff(offsets) < 0).any():
        raise DecodeError(_join(path, rule.offsets), f"byte offsets must rise from 0 to {len(data)}")
    step = dtype.itemsize * per_row
    if (offsets % step).any():
        raise DecodeError(_join(path, rule.offsets), f"byte offsets must be multiples of {step} "
                          f"({kind} x {per_row})")
    flat = np.frombuffer(data, dtype=dtype)
    bounds = (offsets // dtype.itemsize).tolist()
    items = []
    for start, stop in itertools.pairwise(bounds):
        chunk = flat[start:stop]
        items.append({rule.data_key: chunk.tolist(), rule.dtype_key: kind,
                      rule.shape_key: [chunk.size // per_row, *trailing]})
    return items


def _typed_array(source: str, dtypes: Mapping[str, str], value: Mapping[str, Any], blob: Any, path: str) -> Any:
    """The bytes ``blob`` as the numeric array whose element type the ``source`` field names."""
    np = _np()
    label = value.get(source)
    kind = dtypes.get(str(label))
    if kind is None:
        raise DecodeError(path, f"element type {label!r} (from {source!r}) has no entry in dtypes "
                          f"({', '.join(dtypes) or 'none'})")
    dtype = np.dtype(ARRAY_DTYPES[kind])
    if len(blob) % dtype.itemsize:
        raise DecodeError(path, f"{len(blob)} bytes is not a whole number of {kind}")
    return np.frombuffer(blob, dtype=dtype)


def _rows(rule: RowsRule, value: Mapping[str, Any], path: str) -> list[Any] | None:
    count, width = int(value.get(rule.count) or 0), int(value.get(rule.width) or 0)
    if count == 0 or width == 0:
        return None
    columns = []
    for name in rule.columns:
        column = value.get(name)
        size = 0 if column is None else len(column)
        if size != count * width:
            raise DecodeError(_join(path, name), f"has {size} elements, not {count} x {width}")
        columns.append(column.reshape(count, width).tolist())  # type: ignore[union-attr]
    pad = list(rule.pad) if rule.pad is not None else None
    out: list[Any] = []
    for i in range(count):
        row = [list(cells) for cells in zip(*(c[i] for c in columns), strict=True)]
        while pad is not None and row and row[-1] == pad:
            row.pop()
        out.append(row or None)
    return out


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
