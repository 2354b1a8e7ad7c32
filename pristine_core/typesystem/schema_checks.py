"""Checks of the ``types`` section of a manifest (run by the manifest loader)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pristine_core.manifest.models import NO_DEFAULT, TypeSchema
from pristine_core.typesystem.compiled import to_wire
from pristine_core.typesystem.scalars import under

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def type_problems(types: Mapping[str, TypeSchema]) -> list[tuple[str, str]]:
    """Every problem of the manifest's type definitions, as ``(json_path, message)`` pairs."""
    problems: list[tuple[str, str]] = []
    for name, schema in types.items():
        _check(types, schema, f"types.{name}", problems)
    return problems


def _check(types: Mapping[str, TypeSchema], s: TypeSchema, at: str, out: list[tuple[str, str]]) -> None:
    kinds = [
        k
        for k, present in (("type", s.type is not None), ("$ref", s.ref is not None), ("oneOf", bool(s.one_of)))
        if present
    ]
    if not kinds:
        out.append((at, "needs one of 'type', '$ref' or 'oneOf'"))
        return
    if len(kinds) > 1:
        out.append((at, f"{' and '.join(kinds)} cannot be combined"))
        return
    if s.ref is not None and s.ref not in types:
        out.append((f"{at}.$ref", f"unknown type {s.ref!r}"))
    if s.properties and s.type != "object":
        out.append((f"{at}.properties", "only an object type has properties"))
    if s.items is not None and s.type != "array":
        out.append((f"{at}.items", "only an array type has items"))
    for req in s.required:
        if req not in s.properties:
            out.append((f"{at}.required", f"{req!r} is not a declared property"))
    for prop, sub in s.properties.items():
        if not _IDENT.match(prop):
            out.append((f"{at}.properties.{prop}", "property names must be identifiers"))
        _check(types, sub, f"{at}.properties.{prop}", out)
    if s.items is not None:
        _check(types, s.items, f"{at}.items", out)
    if isinstance(s.additional_properties, TypeSchema):
        _check(types, s.additional_properties, f"{at}.additionalProperties", out)
    if s.one_of:
        _check_union(types, s, at, out)
    if s.enum is not None:
        if not s.enum:
            out.append((f"{at}.enum", "must not be empty"))
        for i, value in enumerate(s.enum if s.type in ("string", "integer", "number", "boolean") else ()):
            under(f"{at}.enum[{i}]", to_wire(types, TypeSchema(type=s.type), value)[1], out)
    if s.default is not NO_DEFAULT and s.default is not None and s.type not in (None, "any"):
        probe = TypeSchema(type=s.type, items=s.items, properties=s.properties, additional_properties=True)
        under(f"{at}.default", to_wire(types, probe, s.default)[1][:3], out)
    if s.minimum is not None and s.maximum is not None and s.minimum > s.maximum:
        out.append((at, "minimum is greater than maximum"))


def _check_union(types: Mapping[str, TypeSchema], s: TypeSchema, at: str, out: list[tuple[str, str]]) -> None:
    tag = s.discriminator or "type"
    seen: dict[str, int] = {}
    for i, variant in enumerate(s.one_of):
        where = f"{at}.oneOf[{i}]"
        if variant.ref is None:
            out.append((where, "a union variant must be a $ref to an object type"))
            continue
        target = types.get(variant.ref)
        if target is None:
            out.append((f"{where}.$ref", f"unknown type {variant.ref!r}"))
            continue
        tag_schema = target.properties.get(tag)
        if target.type != "object" or tag_schema is None:
            out.append((where, f"variant {variant.ref!r} must be an object with a {tag!r} property"))
            continue
        values = [tag_schema.const] if tag_schema.const is not NO_DEFAULT else list(tag_schema.enum or ())
        if not values:
            out.append((where, f"variant {variant.ref!r} must fix {tag!r} with const or enum"))
        for value in values:
            key = repr(value)
            if not isinstance(value, str):
                out.append((where, f"the {tag!r} tag of {variant.ref!r} must be a string"))
            elif key in seen:
                out.append((where, f"tag {value!r} is already used by oneOf[{seen[key]}]"))
            seen[key] = i
