"""The core's one strict cattrs converter: manifest models and every plugin's settings classes.

Strict means: unknown keys are errors (with a "did you mean" suggestion when one is close),
booleans are not integers, strings are not numbers. Failures of attrs validators (``'name'
must be ...``) are reported at the field's path. Values that already have the declared class
(a ``PoolSpec`` in a client config, a ``random.Random``) pass through unchanged.
"""

from __future__ import annotations

import collections.abc
import difflib
import inspect
import re
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)
from cattrs.gen import make_dict_structure_fn, override

from pristine_core.manifest import models

# JSON-Schema keywords keep their JSON-Schema spelling in the manifest.
_TYPE_RENAMES = {
    "ref": "$ref",
    "one_of": "oneOf",
    "additional_properties": "additionalProperties",
    "min_length": "minLength",
    "max_length": "maxLength",
}
#: The scalar classes and the JSON values each accepts (booleans are not integers).
_ACCEPTS: dict[type, tuple[type, ...]] = {bool: (bool,), str: (str,), int: (int,), float: (int, float)}
_SCALAR_NAMES = {bool: "true or false", str: "a string", int: "an integer", float: "a number"}
_FIELD_MESSAGE = re.compile(r"^'([A-Za-z_][A-Za-z0-9_]*)' (.*)$", re.S)

Problems = list[tuple[str, str]]


def _structure_any(value: Any, _: Any) -> Any:
    return value


def _is_union(t: Any) -> bool:
    return typing.get_origin(t) in (typing.Union, types.UnionType)


def _is_plain_class(t: Any) -> bool:
    return (
        inspect.isclass(t)
        and typing.get_origin(t) is None
        and not attrs.has(t)
        and t.__module__ not in ("builtins", "typing", "collections.abc")
    )


def _build() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True)
    conv.register_structure_hook_func(lambda t: t is Any, _structure_any)

    def structure_scalar(value: Any, cls: Any) -> Any:
        if type(value) not in _ACCEPTS[cls]:
            raise TypeError(f"expected {_name(cls)}, got {_show(value)}")
        return cls(value)

    for scalar in _ACCEPTS:
        conv.register_structure_hook(scalar, structure_scalar)

    def structure_plain(value: Any, cls: Any) -> Any:
        if not isinstance(value, cls):
            raise TypeError(f"expected a {cls.__name__} object, got {_show(value)}")
        return value

    conv.register_structure_hook_func(_is_plain_class, structure_plain)

    def structure_literal(value: Any, literal: Any) -> Any:
        choices = typing.get_args(literal)
        if value not in choices or (type(value) is bool and True not in choices and False not in choices):
            raise TypeError(f"expected one of {', '.join(map(str, choices))}, got {_show(value)}")
        return value

    conv.register_structure_hook_func(lambda t: typing.get_origin(t) is typing.Literal, structure_literal)

    def structure_callable(value: Any, _: Any) -> Any:
        if not callable(value):
            raise TypeError(f"expected a callable, got {_show(value)}")
        return value

    conv.register_structure_hook_func(lambda t: typing.get_origin(t) is collections.abc.Callable, structure_callable)

    def structure_union(value: Any, union: Any) -> Any:
        members = typing.get_args(union)
        if value is None and type(None) in members:
            return None
        errors: list[BaseException] = []
        for member in members:
            if member is type(None):
                continue
            try:
                return conv.structure(value, member)
            except Exception as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        names = " or ".join(_name(m) for m in members)
        raise TypeError(f"expected {names}, got {_show(value)}")

    conv.register_structure_hook_func(_is_union, structure_union)

    def structure_additional(value: Any, _: Any) -> bool | models.TypeSchema:
        if type(value) is bool:
            return bool(value)
        return conv.structure(value, models.TypeSchema)

    conv.register_structure_hook(bool | models.TypeSchema, structure_additional)

    def attrs_factory(cls: Any) -> Any:
        renames = _TYPE_RENAMES if cls is models.TypeSchema else {}
        fn = make_dict_structure_fn(
            cls,
            conv,
            _cattrs_forbid_extra_keys=False,
            **{attr: override(rename=wire) for attr, wire in renames.items()},  # type: ignore[arg-type]
        )
        known = frozenset(wire_names(cls))

        def structure(value: Any, _: Any) -> Any:
            if isinstance(value, cls):
                return value
            if not isinstance(value, Mapping):
                raise TypeError(f"expected an object, got {_show(value)}")
            # Report unknown keys *and* what is wrong with the rest, in one go.
            errors: list[Exception] = []
            extra = set(value) - known
            if extra:
                errors.append(ForbiddenExtraKeysError("", cls, extra))
                value = {k: v for k, v in value.items() if k not in extra}
            try:
                result = fn(value, cls)
            except ClassValidationError as exc:
                errors.extend(_with_validators(exc, value, cls))
            if errors:
                raise ClassValidationError(f"While structuring {cls.__name__}", errors, cls)
            return result

        return structure

    conv.register_structure_hook_factory(attrs.has, attrs_factory)
    return conv


def _with_validators(exc: ClassValidationError, value: Mapping[str, Any], cls: Any) -> list[Exception]:
    """attrs stops at the first failing validator, and runs none when a field failed to
    structure: run every field validator on the given values so all problems show at once."""
    noted, plain = exc.group_exceptions()
    failed = {note.name for _, note in noted}
    found: list[Exception] = []
    for field in attrs.fields(cls):
        if field.validator is None or field.name in failed or field.name not in value:
            continue
        try:
            field.validator(None, field, value[field.name])
        except (TypeError, ValueError) as problem:
            found.append(problem)
    seen = {str(e) for e in found}
    return [e for e, _ in noted] + found + [e for e in plain if str(e) not in seen]


def _name(t: Any) -> str:
    return _SCALAR_NAMES.get(t) or str(getattr(t, "__name__", t))


def _show(value: Any) -> str:
    text = repr(value)
    kind = type(value).__name__
    if isinstance(value, dict):
        kind = "object"
    elif isinstance(value, list):
        kind = "array"
    elif value is None:
        return "null"
    return f"{kind} {text[:40]}"


CONVERTER = _build()


def suggestion(key: str, known: Iterable[str], cutoff: float = 0.75) -> str:
    """`` (did you mean 'x'?)`` when ``key`` is close to one of ``known``, else ``""``."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def wire_names(cls: Any) -> list[str]:
    """The keys an attrs class accepts (JSON-Schema spellings for types)."""
    renames = _TYPE_RENAMES if cls is models.TypeSchema else {}
    return [renames.get(a.name, a.name) for a in attrs.fields(cls)]


def join(path: str, key: Any) -> str:
    """``path.key`` (or ``path[i]`` for an index); ``$`` and ``""`` are the root."""
    if isinstance(key, int):
        return f"{'' if path == '$' else path}[{key}]"
    return f"{path}.{key}" if path and path != "$" else str(key)


def _format(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "required field is missing"
    if isinstance(exc, (TypeError, ValueError)) and str(exc):
        msg = str(exc)
        if "not iterable" in msg or "object is not" in msg or "unhashable" in msg:
            return f"wrong kind of value ({msg})"
        if msg.startswith("expected"):
            return msg
        return f"invalid value ({msg})"
    return f"invalid value ({type(exc).__name__})"


def problems_from(exc: BaseException, path: str = "$") -> Problems:
    """Flatten a structuring error into ``(json_path, message)`` pairs under ``path``."""
    out: Problems = []
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        noted, rest = exc.group_exceptions()
        for inner, note in noted:
            key = note.name if isinstance(exc, ClassValidationError) else note.index  # type: ignore[union-attr]
            out += problems_from(inner, join(path, key))
        for inner in rest:
            out += problems_from(inner, path)
    elif isinstance(exc, ForbiddenExtraKeysError):
        known = wire_names(exc.cl) if attrs.has(exc.cl) else []
        for key in sorted(map(str, exc.extra_fields)):
            out.append((join(path, key), "unknown key" + suggestion(key, known, 0.6)))
    else:
        field = _FIELD_MESSAGE.match(str(exc)) if isinstance(exc, ValueError) else None
        if field is not None:
            # An attrs validator: "'name' must be ...", optionally ": <value>" (attrs' own).
            name, message = field.groups()
            out.append((join(path, name), message.split(": ", 1)[0] if message.startswith("must") else message))
        else:
            out.append((path, _format(exc)))
    return out


def structure(data: Any, cls: Any, path: str = "$") -> tuple[Any, Problems]:
    """Structure ``data`` into ``cls``; returns ``(value, [])`` or ``(None, problems)``."""
    try:
        return CONVERTER.structure(data, cls), []
    except Exception as exc:
        return None, problems_from(exc, path)
