"""One JSON value at a time: the error of the converters and the converters of scalar values.

Each converter returns its value as wire JSON wants it or raises :class:`Invalid`; the compiled
converters of :mod:`~pristine_core.typesystem.compiled` are built from these.
"""

from __future__ import annotations

import base64
import enum
import numbers
from collections.abc import Mapping
from typing import Any

Errors = list[tuple[str, str]]


class Invalid(Exception):
    """A value does not fit its type; :attr:`errors` lists every ``(path, message)`` pair."""

    def __init__(self, errors: Errors) -> None:
        super().__init__(errors)
        self.errors = errors


def describe(value: Any) -> str:
    """How an error message names the kind of ``value`` (``null``, ``an object``, ``int``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return type(value).__name__


def wrong(expected: str, value: Any) -> Invalid:
    """The error for ``value`` where ``expected`` (such as ``"a string"``) was wanted."""
    if value is None:
        return Invalid([("", "must not be null")])
    return Invalid([("", f"expected {expected}, got {describe(value)}")])


def under(key: str, errors: Errors, into: Errors) -> None:
    """Add the ``errors`` found inside ``key`` (a path such as ``a.b`` or ``[index]``) to ``into``."""
    for path, message in errors:
        into.append((key + path if not path or path[0] == "[" else f"{key}.{path}", message))


def plain(value: Any) -> Any:
    """An enum member's value; anything else as it is."""
    return value.value if isinstance(value, enum.Enum) else value


def text(value: Any) -> str:
    """A JSON string (a string enum gives its value)."""
    if type(value) is str:
        return value
    value = plain(value)
    if isinstance(value, str):
        return str(value)
    raise wrong("a string", value)


def base64_text(value: Any) -> str:
    """A JSON string of a ``base64`` field: bytes are encoded."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return text(value)


def integer(value: Any) -> int:
    """A JSON integer (a whole float becomes an int; booleans are refused)."""
    if type(value) is int:
        return value
    value = plain(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise wrong("an integer", value)


def number(value: Any) -> Any:
    """A JSON number: an int stays an int, other reals become floats; booleans are refused."""
    kind = type(value)
    if kind is float or kind is int:
        return value
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise wrong("a number", value)
    return value if isinstance(value, int) else float(value)


def boolean(value: Any) -> bool:
    """A JSON boolean (``true`` or ``false`` only)."""
    if type(value) is not bool:
        value = plain(value)
        if type(value) is not bool:
            raise wrong("true or false", value)
    return value
