"""Protobuf (proto3) wire encoding of plain data, driven by a :class:`~.schema.Schema`.

A message is a dict of field name → value: numbers, bools, str, bytes, enum labels (or
numbers), nested dicts, lists (repeated), dicts (maps) and, for ``array`` bytes fields, any
numeric sequence or numpy array. :func:`decode` gives the same shapes back (enum labels, numpy
arrays for ``array`` fields, proto3 defaults for absent scalars, repeated and map fields).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from .schema import ARRAY_DTYPES, SCALARS, FieldDef, MessageDef, Schema


def _np() -> Any:
    """numpy, imported on first use: it costs ~100 ms, and listing or loading the plugin needs none."""
    import numpy

    return numpy


_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_DEFAULTS: dict[str, Any] = {"double": 0.0, "float": 0.0, "int32": 0, "int64": 0, "uint32": 0,
                             "uint64": 0, "bool": False, "string": "", "bytes": b""}
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1),
               "uint32": (0, 2**32 - 1), "uint64": (0, 2**64 - 1)}


class EncodeError(ValueError):
    """A value does not fit its field; ``path`` names it (``data[3].tokens``)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path or '<message>'}: {message}")


class DecodeError(ValueError):
    """The bytes are not a valid encoding of the message; ``path`` names where it failed."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path or '<message>'}: {message}")


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(buf: bytes, pos: int, end: int, path: str) -> tuple[int, int]:
    result = shift = 0
    while pos < end:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            break
    raise DecodeError(path, "truncated or overlong varint")


def _key(number: int, wire: int) -> bytes:
    return _varint((number << 3) | wire)


def _wire_type(schema: Schema, ftype: str) -> int:
    if ftype in SCALARS:
        return SCALARS[ftype]
    return 0 if ftype in schema.enums else 2


class Codec:
    """Encodes and decodes the messages of one schema."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    # ------------------------------------------------------------------ encode
    def encode(self, message: str, value: Mapping[str, Any]) -> bytes:
        """``value`` as the serialized ``message``; :class:`EncodeError` names a bad field."""
        out = bytearray()
        self._message(self.schema.message(message), value, "", out)
        return bytes(out)

    def _message(self, mdef: MessageDef, value: Any, path: str, out: bytearray) -> None:
        if not isinstance(value, Mapping):
            raise EncodeError(path, f"expected an object for message {mdef.name}")
        groups: dict[str, str] = {}
        for name, item in value.items():
            field = mdef.by_name.get(name)
            fpath = f"{path}.{name}" if path else name
            if field is None:
                raise EncodeError(fpath, f"is not a field of {mdef.name}")
            if item is None:
                continue
            if field.oneof is not None:
                if field.oneof in groups:
                    raise EncodeError(fpath, f"oneof {field.oneof} already set by {groups[field.oneof]}")
                groups[field.oneof] = name
            self._field(field, item, fpath, out)

    def _field(self, field: FieldDef, value: Any, path: str, out: bytearray) -> None:
        if field.type == "map":
            if not isinstance(value, Mapping):
                raise EncodeError(path, "expected an object (map)")
            assert field.key is not None and field.value is not None
            for k, v in value.items():
                entry = bytearray()
                self._single(field.key, None, 1, k, f"{path}.{k}", entry, keep_default=True)
                self._single(field.value, None, 2, v, f"{path}.{k}", entry, keep_default=True)
                out += _key(field.number, 2)
                out += _varint(len(entry))
                out += entry
            return
        if field.repeated:
            if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
                raise EncodeError(path, "expected an array")
            items = list(value)
            wire = _wire_type(self.schema, field.type)
            if wire != 2:  # packed numeric / enum / bool
                packed = bytearray()
                for i, item in enumerate(items):
                    packed += self._scalar_bytes(field.type, item, f"{path}[{i}]")
                if items:
                    out += _key(field.number, 2)
                    out += _varint(len(packed))
                    out += packed
                return
            for i, item in enumerate(items):
                self._single(field.type, field.array, field.number, item, f"{path}[{i}]", out,
                             keep_default=True)
            return
        self._single(field.type, field.array, field.number, value, path, out,
                     keep_default=field.has_presence)

    def _single(self, ftype: str, array: str | None, number: int, value: Any, path: str,
                out: bytearray, *, keep_default: bool) -> None:
        if ftype in self.schema.messages:
            inner = bytearray()
            self._message(self.schema.messages[ftype], value, path, inner)
            out += _key(number, 2)
            out += _varint(len(inner))
            out += inner
            return
        if ftype in ("string", "bytes"):
            data = self._blob(ftype, array, value, path)
            if data or keep_default:
                out += _key(number, 2)
                out += _varint(len(data))
                out += data
            return
        data = self._scalar_bytes(ftype, value, path)
        if keep_default or data not in (b"\x00", b"\x00\x00\x00\x00", b"\x00" * 8):
            out += _key(number, _wire_type(self.schema, ftype))
            out += data

    @staticmethod
    def _blob(ftype: str, array: str | None, value: Any, path: str) -> bytes:
        if ftype == "string":
            if not isinstance(value, str):
                raise EncodeError(path, f"expected a string, got {type(value).__name__}")
            return value.encode("utf-8")
        if array is not None and not isinstance(value, (bytes, bytearray, memoryview)):
            try:
                arr = _np().asarray(value)
                if arr.dtype.kind not in "iuf" and arr.size:
                    raise TypeError(arr.dtype)
                return arr.astype(ARRAY_DTYPES[array], copy=False).ravel().tobytes()
            except (TypeError, ValueError):
                raise EncodeError(path, f"expected a numeric array ({array})") from None
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise EncodeError(path, f"expected bytes, got {type(value).__name__}")

    def _scalar_bytes(self, ftype: str, value: Any, path: str) -> bytes:
        enum = self.schema.enums.get(ftype)
        if enum is not None:
            if isinstance(value, str):
                if value not in enum:
                    raise EncodeError(path, f"{value!r} is not a label of enum {ftype}")
                return _varint(enum[value])
            ftype = "int32"
        if ftype == "bool":
            if not isinstance(value, (bool, _np().bool_)):
                raise EncodeError(path, f"expected a boolean, got {type(value).__name__}")
            return b"\x01" if value else b"\x00"
        if ftype in ("double", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float, _np().integer, _np().floating)):
                raise EncodeError(path, f"expected a number, got {type(value).__name__}")
            return (_DOUBLE if ftype == "double" else _FLOAT).pack(float(value))
        if isinstance(value, bool) or not isinstance(value, (int, _np().integer)):
            raise EncodeError(path, f"expected an integer, got {type(value).__name__}")
        lo, hi = _INT_RANGES[ftype]
        number = int(value)
        if not lo <= number <= hi:
            raise EncodeError(path, f"{number} is outside the {ftype} range")
        return _varint(number)

    # ------------------------------------------------------------------ decode
    def decode(self, message: str, data: bytes | bytearray | memoryview) -> dict[str, Any]:
        """Serialized ``message`` → dict; :class:`DecodeError` on malformed input."""
        buf = bytes(data)
        return self._read_message(self.schema.message(message), buf, 0, len(buf), "")

    def _read_message(self, mdef: MessageDef, buf: bytes, pos: int, end: int,
                      path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while pos < end:
            tag, pos = _read_varint(buf, pos, end, path)
            number, wire = tag >> 3, tag & 7
            field = mdef.by_number.get(number)
            if field is None:
                pos = _skip(buf, pos, end, wire, f"{path}#{number}")
                continue
            fpath = f"{path}.{field.name}" if path else field.name
            pos = self._read_field(field, wire, buf, pos, end, fpath, out)
        self._defaults(mdef, out)
        return out

    def _defaults(self, mdef: MessageDef, out: dict[str, Any]) -> None:
        for field in mdef.fields:
            if field.name in out or field.has_presence:
                continue
            if field.type == "map":
                out[field.name] = {}
            elif field.repeated:
                out[field.name] = []
            elif field.array is not None:
                out[field.name] = _np().zeros(0, dtype=ARRAY_DTYPES[field.array])
            elif field.type in _DEFAULTS:
                out[field.name] = _DEFAULTS[field.type]
            elif field.type in self.schema.enums:
                out[field.name] = self._enum_label(field.type, 0)

    def _read_field(self, field: FieldDef, wire: int, buf: bytes, pos: int, end: int, path: str,
                    out: dict[str, Any]) -> int:
        if field.type == "map":
            blob, pos = _length_delimited(buf, pos, end, wire, path)
            key, value = self._read_entry(field, blob, path)
            out.setdefault(field.name, {})[key] = value
            return pos
        expected = _wire_type(self.schema, field.type)
        if field.repeated and expected != 2 and wire == 2:  # packed
            blob, pos = _length_delimited(buf, pos, end, wire, path)
            items = out.setdefault(field.name, [])
            inner, inner_end = 0, len(blob)
            while inner < inner_end:
                value, inner = self._read_scalar(field.type, expected, blob, inner, inner_end, path)
                items.append(value)
            return pos
        if wire != expected:
            raise DecodeError(path, f"wire type {wire} does not match {field.type}")
        value, pos = self._read_value(field.type, field.array, wire, buf, pos, end, path)
        if field.repeated:
            out.setdefault(field.name, []).append(value)
        else:
            out[field.name] = value
        return pos

    def _read_entry(self, field: FieldDef, blob: bytes, path: str) -> tuple[Any, Any]:
        assert field.key is not None and field.value is not None
        key: Any = _DEFAULTS[field.key]
        value: Any = None
        pos, end = 0, len(blob)
        while pos < end:
            tag, pos = _read_varint(blob, pos, end, path)
            number, wire = tag >> 3, tag & 7
            if number == 1:
                key, pos = self._read_value(field.key, None, wire, blob, pos, end, path)
            elif number == 2:
                value, pos = self._read_value(field.value, None, wire, blob, pos, end, f"{path}.{key}")
            else:
                pos = _skip(blob, pos, end, wire, path)
        if value is None:
            value = self._empty(field.value)
        return key, value

    def _empty(self, ftype: str) -> Any:
        if ftype in self.schema.messages:
            out: dict[str, Any] = {}
            self._defaults(self.schema.messages[ftype], out)
            return out
        if ftype in self.schema.enums:
            return self._enum_label(ftype, 0)
        return _DEFAULTS[ftype]

    def _read_value(self, ftype: str, array: str | None, wire: int, buf: bytes, pos: int, end: int,
                    path: str) -> tuple[Any, int]:
        if ftype in self.schema.messages:
            blob_start, blob_end = _span(buf, pos, end, wire, path)
            return self._read_message(self.schema.messages[ftype], buf, blob_start, blob_end,
                                      path), blob_end
        if ftype in ("string", "bytes"):
            blob, pos = _length_delimited(buf, pos, end, wire, path)
            if ftype == "string":
                try:
                    return blob.decode("utf-8"), pos
                except UnicodeDecodeError:
                    raise DecodeError(path, "invalid UTF-8") from None
            if array is not None:
                dtype = _np().dtype(ARRAY_DTYPES[array])
                if len(blob) % dtype.itemsize:
                    raise DecodeError(path, f"{len(blob)} bytes is not a whole number of {array}")
                return _np().frombuffer(blob, dtype=dtype), pos
            return blob, pos
        return self._read_scalar(ftype, wire, buf, pos, end, path)

    def _read_scalar(self, ftype: str, wire: int, buf: bytes, pos: int, end: int,
                     path: str) -> tuple[Any, int]:
        if wire == 1:
            if pos + 8 > end:
                raise DecodeError(path, "truncated fixed64")
            return _DOUBLE.unpack_from(buf, pos)[0], pos + 8
        if wire == 5:
            if pos + 4 > end:
                raise DecodeError(path, "truncated fixed32")
            return _FLOAT.unpack_from(buf, pos)[0], pos + 4
        raw, pos = _read_varint(buf, pos, end, path)
        if ftype == "bool":
            return raw != 0, pos
        if ftype in self.schema.enums:
            return self._enum_label(ftype, _signed(raw)), pos
        if ftype in ("int32", "int64"):
            return _signed(raw), pos
        return raw, pos

    def _enum_label(self, enum: str, number: int) -> str | int:
        for label, value in self.schema.enums[enum].items():
            if value == number:
                return label
        return number


def _signed(raw: int) -> int:
    raw &= (1 << 64) - 1
    return raw - (1 << 64) if raw >= 1 << 63 else raw


def _span(buf: bytes, pos: int, end: int, wire: int, path: str) -> tuple[int, int]:
    if wire != 2:
        raise DecodeError(path, f"wire type {wire} where a length-delimited value was expected")
    length, pos = _read_varint(buf, pos, end, path)
    if pos + length > end:
        raise DecodeError(path, "truncated length-delimited value")
    return pos, pos + length


def _length_delimited(buf: bytes, pos: int, end: int, wire: int, path: str) -> tuple[bytes, int]:
    start, stop = _span(buf, pos, end, wire, path)
    return buf[start:stop], stop


def _skip(buf: bytes, pos: int, end: int, wire: int, path: str) -> int:
    if wire == 0:
        return _read_varint(buf, pos, end, path)[1]
    if wire == 1:
        pos += 8
    elif wire == 5:
        pos += 4
    elif wire == 2:
        return _span(buf, pos, end, wire, path)[1]
    else:
        raise DecodeError(path, f"unsupported wire type {wire}")
    if pos > end:
        raise DecodeError(path, "truncated value")
    return pos
