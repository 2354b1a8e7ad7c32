"""Python annotations for manifest type schemas.

A :class:`TypeMapper` turns a :class:`~pristine_core.manifest.models.TypeSchema` into the text of
a Python annotation, naming the types of the generated module (or a domain class imported in
its place) and recording the ``typing`` names it used. It mirrors what the runtime returns:
named object types become classes, inline objects and maps ``dict``, arrays ``list``, enums and
constants ``Literal``, tagged unions a union of their variants.
"""

from __future__ import annotations

from collections.abc import Mapping

from pristine_core.manifest.models import NO_DEFAULT, TypeSchema
from pristine_core.typesystem.classes import is_class_type

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}


def _literal(values: tuple[object, ...]) -> str:
    return "Literal[" + ", ".join(repr(v) for v in values) + "]"


class TypeMapper:
    """Annotations for the types of one manifest.

    ``param=True`` asks for the annotation of a method parameter: arrays accept any
    ``Sequence`` and maps any ``Mapping`` (the runtime validates and copies them).
    """

    def __init__(self, types: Mapping[str, TypeSchema]) -> None:
        self.types = types
        self.typing_names: set[str] = set()
        self.abc_names: set[str] = set()

    def is_class(self, name: str) -> bool:
        """True when type ``name`` is a class in the generated module (or a domain class)."""
        return is_class_type(self.types, name)

    def nullable(self, schema: TypeSchema) -> bool:
        """True when ``None`` is a valid value of ``schema`` (directly or through its ref)."""
        if schema.nullable or schema.type == "any":
            return True
        return schema.ref is not None and self.types[schema.ref].nullable

    def annotation(self, schema: TypeSchema, *, param: bool = False) -> str:
        """The annotation of ``schema``, with ``| None`` when it is nullable."""
        text = self.body(schema, param=param)
        if self.nullable(schema) and text not in ("Any", "None"):
            return f"{text} | None"
        return text

    def body(self, schema: TypeSchema, *, param: bool = False) -> str:
        """The annotation of ``schema`` without its nullability."""
        if schema.ref is not None:
            return schema.ref
        if schema.one_of:
            parts = [self.body(variant, param=param) for variant in schema.one_of]
            return " | ".join(dict.fromkeys(parts))
        if schema.const is not NO_DEFAULT and schema.const is not None:
            self.typing_names.add("Literal")
            return _literal((schema.const,))
        kind = schema.type
        if kind in _SCALARS:
            if schema.enum:
                self.typing_names.add("Literal")
                return _literal(tuple(v for v in schema.enum if v is not None))
            return _SCALARS[kind]
        if kind == "array":
            item = self.annotation(schema.items, param=param) if schema.items is not None else self._any()
            if param:
                self.abc_names.add("Sequence")
                return f"Sequence[{item}]"
            return f"list[{item}]"
        if kind == "object":
            extra = schema.additional_properties
            value = self.annotation(extra, param=param) if isinstance(extra, TypeSchema) else self._any()
            if param:
                self.abc_names.add("Mapping")
                return f"Mapping[str, {value}]"
            return f"dict[str, {value}]"
        return self._any()

    def _any(self) -> str:
        self.typing_names.add("Any")
        return "Any"

    def references(self, schema: TypeSchema) -> set[str]:
        """The named types ``schema`` refers to, directly or inside arrays, maps and unions."""
        found: set[str] = set()
        stack = [schema]
        while stack:
            node = stack.pop()
            if node.ref is not None:
                found.add(node.ref)
            stack.extend(node.one_of)
            if node.items is not None:
                stack.append(node.items)
            if isinstance(node.additional_properties, TypeSchema):
                stack.append(node.additional_properties)
            stack.extend(node.properties.values())
        return found
