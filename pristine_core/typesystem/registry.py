"""The per-manifest type registry: classes, cattrs hooks and validation entry points."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cattrs

from pristine_core.errors import ValidationError
from pristine_core.manifest.models import TypeSchema
from pristine_core.typesystem.classes import build_class, is_class_type
from pristine_core.typesystem.compiled import Compiler, Fail
from pristine_core.typesystem.wire import MISSING, from_wire, to_wire


class TypeRegistry:
    """Classes for a manifest's object types, built once, plus a private cattrs converter.

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
        self._converter: cattrs.Converter | None = None

    @property
    def converter(self) -> cattrs.Converter:
        """A cattrs converter that structures and unstructures the classes (built on first use)."""
        if self._converter is None:
            converter = cattrs.Converter()
            for name, cls in self.classes.items():
                converter.register_structure_hook(cls, self._structure_hook(name))
                converter.register_unstructure_hook(cls, self._unstructure_hook(name))
            self._converter = converter
        return self._converter

    def _structure_hook(self, name: str) -> Any:
        return lambda data, _cls: self.parse(name, data)

    def _unstructure_hook(self, name: str) -> Any:
        return lambda obj: self.dump(name, obj)

    def cls(self, name: str) -> type:
        """The class of object type ``name``."""
        return self.classes[name]

    def schema(self, name: str) -> TypeSchema:
        """The schema of type ``name``."""
        return self.types[name]

    def dump(self, name: str, value: Any, path: str = "") -> Any:
        """Validate ``value`` (dict or instance) strictly and return its wire JSON.

        Raises :class:`~pristine_core.errors.ValidationError` naming every bad field.
        """
        try:
            return self._dumper.named(name)(value)
        except Fail:
            pass
        result, errors = to_wire(self.types, TypeSchema(ref=name), value, path)
        if errors:
            raise ValidationError(errors, name)
        return result

    def parse(self, name: str, data: Any) -> Any:
        """Parse wire JSON into instances; unknown fields are ignored.

        Raises :class:`~pristine_core.errors.ValidationError` when required fields are missing or
        values have the wrong kind (the caller decides whose fault that is).
        """
        try:
            if data is not None:
                return self._parser.named(name)(data)
        except Fail:
            pass
        result, errors = from_wire(self.types, TypeSchema(ref=name), data, self.classes.get)
        if errors or result is MISSING:
            raise ValidationError(errors or [("", "no value")], name)
        return result
