"""Typed access to JSON request bodies; every failure is a 400 naming the field path.

Unknown keys are ignored (clients may send newer fields); missing or ill-typed *required*
keys are rejected. Optional keys may be absent; an explicit ``null`` counts as absent unless
the caller says the field is not nullable (the real service rejects ``null`` for a few keys).
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

from .errors import bad_field

T = TypeVar("T")
_MISSING = object()


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def join_path(base: str, name: str | int) -> str:
    """Append a key (``a.b``) or an index (``a[3]``) to a field path."""
    if isinstance(name, int):
        return f"{base}[{name}]"
    return f"{base}.{name}" if base else name


def as_int(value: Any, path: str) -> int:
    """``value`` as an int (integral floats such as 3.0 accepted), else a 400 for ``path``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_field(path, f"must be an integer, got {_type_name(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise bad_field(path, f"must be an integer, got {value!r}")
        return int(value)
    return value


def as_float(value: Any, path: str) -> float:
    """``value`` as a finite float, else a 400 for ``path``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_field(path, f"must be a number, got {_type_name(value)}")
    out = float(value)
    if not math.isfinite(out):
        raise bad_field(path, "must be a finite number")
    return out


class Fields:
    """A JSON object plus its path in the request body, with typed getters."""

    __slots__ = ("_obj", "_path")

    def __init__(self, obj: Any, path: str = "") -> None:
        if not isinstance(obj, dict):
            raise bad_field(path or "body", f"must be an object, got {_type_name(obj)}")
        self._obj: dict[str, Any] = obj
        self._path = path

    @property
    def path(self) -> str:
        """This object's path ("" for the body itself)."""
        return self._path

    def sub(self, name: str | int) -> str:
        """The path of a child key."""
        return join_path(self._path, name)

    def has(self, name: str) -> bool:
        """True when ``name`` is present and not null."""
        return self._obj.get(name) is not None

    def raw(self, name: str) -> Any:
        """The raw value (None when absent)."""
        return self._obj.get(name)

    def _get(self, name: str, required: bool, nullable: bool) -> Any:
        value = self._obj.get(name, _MISSING)
        if value is _MISSING:
            if required:
                raise bad_field(self.sub(name), "is required")
            return _MISSING
        if value is None:
            if required or not nullable:
                raise bad_field(self.sub(name), "must not be null")
            return _MISSING
        return value

    def str_(self, name: str, default: str | None = None, *, required: bool = False,
             nullable: bool = True, nonempty: bool = True) -> str | None:
        """A string field."""
        value = self._get(name, required, nullable)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            raise bad_field(self.sub(name), f"must be a string, got {_type_name(value)}")
        if nonempty and not value:
            raise bad_field(self.sub(name), "must not be empty")
        return value

    def req_str(self, name: str) -> str:
        """A required non-empty string field."""
        value = self.str_(name, required=True)
        assert value is not None
        return value

    def int_(self, name: str, default: int | None = None, *, required: bool = False,
             nullable: bool = True, minimum: int | None = None) -> int | None:
        """An integer field, optionally bounded below."""
        value = self._get(name, required, nullable)
        if value is _MISSING:
            return default
        out = as_int(value, self.sub(name))
        if minimum is not None and out < minimum:
            raise bad_field(self.sub(name), f"must be >= {minimum}, got {out}")
        return out

    def req_int(self, name: str, *, minimum: int | None = None) -> int:
        """A required integer field."""
        value = self.int_(name, required=True, minimum=minimum)
        assert value is not None
        return value

    def float_(self, name: str, default: float, *, nullable: bool = True) -> float:
        """An optional number field with a default."""
        value = self._get(name, False, nullable)
        if value is _MISSING:
            return default
        return as_float(value, self.sub(name))

    def bool_(self, name: str, default: bool, *, nullable: bool = True) -> bool:
        """An optional boolean field with a default."""
        value = self._get(name, False, nullable)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise bad_field(self.sub(name), f"must be a boolean, got {_type_name(value)}")
        return value

    def obj(self, name: str, *, required: bool = False) -> Fields | None:
        """A nested object field."""
        value = self._get(name, required, True)
        if value is _MISSING:
            return None
        return Fields(value, self.sub(name))

    def req_obj(self, name: str) -> Fields:
        """A required nested object."""
        value = self.obj(name, required=True)
        assert value is not None
        return value

    def list_(self, name: str, *, required: bool = False) -> list[Any] | None:
        """An array field."""
        value = self._get(name, required, True)
        if value is _MISSING:
            return None
        if not isinstance(value, list):
            raise bad_field(self.sub(name), f"must be an array, got {_type_name(value)}")
        return value

    def req_list(self, name: str) -> list[Any]:
        """A required array field."""
        value = self.list_(name, required=True)
        assert value is not None
        return value

    def str_list(self, name: str) -> list[str] | None:
        """An optional array of strings."""
        values = self.list_(name)
        if values is None:
            return None
        for i, item in enumerate(values):
            if not isinstance(item, str):
                raise bad_field(join_path(self.sub(name), i),
                                f"must be a string, got {_type_name(item)}")
        return values

    def dict_(self, name: str) -> dict[str, Any] | None:
        """An optional free-form object (returned as a plain dict)."""
        sub = self.obj(name)
        return None if sub is None else dict(sub._obj)

    def items(self) -> list[tuple[str, Any]]:
        """All key/value pairs of this object."""
        return list(self._obj.items())
