"""The per-manifest type registry: classes and the two conversion directions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pristine_core.errors import ValidationError
from pristine_core.manifest.models import TypeSchema
from pristine_core.typesystem.classes import build_class, is_class_type
from pristine_core.typesystem.compiled import Compiler
from pristine_core.typesystem.scalars import Invalid


class TypeRegistry:
    """Classes for a manifest's object types, built once, and their compiled converters.

    ``overrides`` maps type names to classes supplied by a domain plugin (through the
    ``pristine_type_classes`` hook); such a class is built with keyword arguments named after
    the type's properties, and read back through attributes of the same names.
    """

    def __init__(self, types: Mapping[str, TypeSchema], overrides: Mapping[str, type] | None = None):
        self.types = dict(types)
        self.classes: dict[str, type] = {}
        for name in self.types:
            if overrides and name in overrides:
                self.classes[name] = overrides[name]
            elif is_class_type(self.types, name):
                self.classes[name] = build_class(name, self.types[name])
        self._dumper = Compiler(self.types, strict=True)
        self._parser = Compiler(self.types, strict=False, classes=self.classes)

    def cls(self, name: str) -> type:
        """The class of object type ``name``."""
        return self.classes[name]

    def dump(self, name: str, value: Any) -> Any:
        """Validate ``value`` (dict or instance) strictly and return its wire JSON.

        Raises :class:`~pristine_core.errors.ValidationError` naming every bad field.
        """
        try:
            return self._dumper.named(name)(value)
        except Invalid as exc:
            raise ValidationError(exc.errors, name) from None

    def parse(self, name: str, data: Any) -> Any:
        """Parse wire JSON into instances; unknown fields are ignored.

        Raises :class:`~pristine_core.errors.ValidationError` when required fields are missing or
        values have the wrong kind (the caller decides whose fault that is).
        """
        try:
            return self._parser.named(name)(data)
        except Invalid as exc:
            raise ValidationError(exc.errors, name) from None
