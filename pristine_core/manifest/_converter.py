"""The private cattrs converter that turns raw manifest data into :mod:`models` objects."""

from __future__ import annotations

import re
from typing import Any

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError
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


def _structure_any(value: Any, _: Any) -> Any:
    return value


def _build() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook_func(lambda t: t is Any, _structure_any)

    def structure_bool(value: Any, _: Any) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {_show(value)}")
        return value

    def structure_str(value: Any, _: Any) -> str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {_show(value)}")
        return value

    def structure_int(value: Any, _: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"expected an integer, got {_show(value)}")
        return value

    def structure_float(value: Any, _: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {_show(value)}")
        return float(value)

    conv.register_structure_hook(bool, structure_bool)
    conv.register_structure_hook(str, structure_str)
    conv.register_structure_hook(int, structure_int)
    conv.register_structure_hook(float, structure_float)

    def structure_additional(value: Any, _: Any) -> bool | models.TypeSchema:
        if isinstance(value, bool):
            return value
        return conv.structure(value, models.TypeSchema)

    conv.register_structure_hook(bool | models.TypeSchema, structure_additional)

    type_fn = make_dict_structure_fn(
        models.TypeSchema,
        conv,
        _cattrs_forbid_extra_keys=True,
        **{attr: override(rename=wire) for attr, wire in _TYPE_RENAMES.items()},  # type: ignore[arg-type]
    )

    def structure_type(value: Any, cls: Any) -> models.TypeSchema:
        _expect_object(value)
        return type_fn(value, cls)

    conv.register_structure_hook(models.TypeSchema, structure_type)
    return conv


def _expect_object(value: Any) -> None:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {_show(value)}")


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

_KEY = re.compile(r"\['((?:[^'\\]|\\.)*)'\]")


def _format(exc: BaseException, _type: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field is missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        return "unknown field(s): " + ", ".join(sorted(map(str, exc.extra_fields)))
    if isinstance(exc, (TypeError, ValueError)) and str(exc):
        msg = str(exc)
        if "not iterable" in msg or "object is not" in msg or "unhashable" in msg:
            return f"wrong kind of value ({msg})"
        if msg.startswith("expected"):
            return msg
        return f"invalid value ({msg})"
    return f"invalid value ({type(exc).__name__})"


def problems_from(exc: BaseException) -> list[tuple[str, str]]:
    """Flatten a cattrs structuring error into ``(json_path, message)`` pairs."""
    if not isinstance(exc, (ClassValidationError, IterableValidationError)):
        return [("$", _format(exc, None))]
    out = []
    for line in cattrs.transform_error(exc, path="$", format_exception=_format):
        message, _, path = line.rpartition(" @ ")
        out.append((json_path(path), message))
    return out


def json_path(cattrs_path: str) -> str:
    """Turn ``$.a['b'][0].c`` into ``a.b[0].c`` (``$`` for the root)."""
    path = _KEY.sub(lambda m: "." + m.group(1), cattrs_path)
    path = path[1:] if path.startswith("$") else path
    return path.lstrip(".") or "$"
