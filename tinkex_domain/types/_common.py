"""Small helpers shared by the Tinkex value types: field errors and attrs converters."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from pristine_core.errors import ValidationError


def fail(type_name: str, field: str, message: str) -> NoReturn:
    """Raise a :class:`~pristine_core.errors.ValidationError` naming ``field`` of ``type_name``."""
    raise ValidationError([(field, message)], type_name)


def as_int(type_name: str, field: str, value: Any) -> int:
    """``value`` as an int (integral floats accepted); booleans and other kinds are rejected."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(type_name, field, f"expected an integer, got {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    if number.is_integer():
        return int(number)
    fail(type_name, field, f"expected an integer, got {value!r}")


def as_float(type_name: str, field: str, value: Any) -> float:
    """``value`` as a finite float; booleans and other kinds are rejected."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(type_name, field, f"expected a number, got {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        fail(type_name, field, "must be a finite number")
    return out


def int_tuple(type_name: str, field: str, values: Iterable[Any]) -> tuple[int, ...]:
    """A tuple of ints from any iterable of integral numbers (numpy arrays included)."""
    if isinstance(values, (str, bytes, Mapping)):
        fail(type_name, field, "expected a sequence of integers")
    tolist = getattr(values, "tolist", None)
    if tolist is not None:
        values = tolist()
    return tuple(as_int(type_name, f"{field}[{i}]", v) for i, v in enumerate(values))


def optional_int(type_name: str, field: str, value: Any) -> int | None:
    """None, or ``value`` as an int."""
    return None if value is None else as_int(type_name, field, value)


def float_map(type_name: str, field: str, value: Mapping[str, Any] | None) -> dict[str, float]:
    """A ``{str: float}`` dict (None → empty); keys are stringified, values must be numbers."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        fail(type_name, field, "expected a mapping of names to numbers")
    out: dict[str, float] = {}
    for key, raw in value.items():
        if isinstance(raw, str):
            try:
                raw = float(raw)
            except ValueError:
                fail(type_name, f"{field}.{key}", f"expected a number, got {raw!r}")
        out[str(key)] = as_float(type_name, f"{field}.{key}", raw)
    return out


#: Token ids are non-negative 32-bit signed integers on the wire.
MAX_TOKEN_ID = 2**31 - 1
#: Seeds are unsigned 64-bit integers.
MAX_SEED = 2**64 - 1


def token_tuple(type_name: str, field: str, values: Iterable[Any]) -> tuple[int, ...]:
    """:func:`int_tuple` restricted to valid token ids (0 <= id < 2**31)."""
    tokens = int_tuple(type_name, field, values)
    for index, token in enumerate(tokens):
        if not 0 <= token <= MAX_TOKEN_ID:
            fail(type_name, f"{field}[{index}]", f"token ids must be in [0, 2**31), got {token}")
    return tokens


def optional_seed(type_name: str, field: str, value: Any) -> int | None:
    """None, or ``value`` as an unsigned 64-bit seed."""
    seed = optional_int(type_name, field, value)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        fail(type_name, field, f"seeds must be unsigned 64-bit integers (0 to 2**64 - 1), got {seed}")
    return seed


def check_checkpoint_name(type_name: str, field: str, value: Any) -> str:
    """A checkpoint name: a non-empty string without path separators, ``..`` or control characters."""
    if not isinstance(value, str) or not value.strip():
        fail(type_name, field, "must be a non-empty name")
    if "/" in value or "\\" in value or value in (".", "..") or ".." in value:
        fail(type_name, field, f"must not contain path separators or '..', got {value!r}")
    if any(ord(ch) < 32 for ch in value):
        fail(type_name, field, "must not contain control characters")
    return value


def check_vocab(type_name: str, field: str, tokens: Iterable[int], vocab_size: int | None) -> None:
    """Token ids must be below ``vocab_size`` when the vocabulary is known (None: not checked)."""
    if vocab_size is None:
        return
    for index, token in enumerate(tokens):
        if token >= vocab_size:
            fail(type_name, f"{field}[{index}]", f"token id {token} is not below the vocabulary size {vocab_size}")
