"""The generated types module: attrs classes, ``Literal`` enums, union and container aliases."""

from __future__ import annotations

from collections.abc import Mapping

from pristine_codegen.annotations import TypeMapper
from pristine_codegen.text import CodegenError, docstring, python_identifier
from pristine_core.manifest.models import NO_DEFAULT, Manifest, TypeSchema
from pristine_core.typesystem.classes import attr_name


def _default(schema: TypeSchema) -> object:
    if schema.default is not NO_DEFAULT:
        return schema.default
    return schema.const


def _default_expr(value: object) -> str:
    if isinstance(value, list) and not value:
        return "attrs.Factory(list)"
    if isinstance(value, dict) and not value:
        return "attrs.Factory(dict)"
    if isinstance(value, (list, dict)):
        return f"attrs.Factory(lambda: {value!r})"
    return repr(value)


def _alias_order(names: list[str], deps: Mapping[str, set[str]]) -> list[str]:
    """Aliases in an order where each comes after the aliases it uses (stable, by position)."""
    done: list[str] = []
    placed: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in placed or name in visiting:
            return
        visiting.add(name)
        for dep in sorted(deps.get(name, ()), key=names.index):
            visit(dep)
        visiting.discard(name)
        placed.add(name)
        done.append(name)

    for name in names:
        visit(name)
    return done


class TypesModule:
    """Renders the types of ``manifest``; ``domain`` maps type names to hand-written classes."""

    def __init__(self, manifest: Manifest, domain: Mapping[str, type]) -> None:
        self.manifest = manifest
        self.domain = {name: cls for name, cls in domain.items() if name in manifest.types}
        self.mapper = TypeMapper(manifest.types)
        for name in manifest.types:
            python_identifier(name, f"types.{name}")

    @property
    def class_names(self) -> list[str]:
        """Types that are classes at run time (generated or domain), in manifest order."""
        return [n for n in self.manifest.types if n in self.domain or self.mapper.is_class(n)]

    @property
    def generated_class_names(self) -> list[str]:
        """Types this module defines as attrs classes."""
        return [n for n in self.class_names if n not in self.domain]

    @property
    def alias_names(self) -> list[str]:
        """Types this module defines as aliases (enums, unions, arrays, maps, scalars)."""
        return [n for n in self.manifest.types if n not in self.domain and not self.mapper.is_class(n)]

    def render(self, title: str) -> str:
        """The module's source (without the generated-file header)."""
        classes = [self._class(name) for name in self.generated_class_names]
        aliases = self._aliases()
        typing_names = sorted(self.mapper.typing_names | ({"TypeAlias"} if aliases else set()))
        lines = [docstring(title, 0), "", "from __future__ import annotations", ""]
        if self.mapper.abc_names:
            lines.append(f"from collections.abc import {', '.join(sorted(self.mapper.abc_names))}")
        if typing_names:
            lines.append(f"from typing import {', '.join(typing_names)}")
        lines += ["", "import attrs", ""]
        lines += self._domain_imports()
        lines += ["", "", *classes, *aliases]
        entries = "".join(f"    {name!r}: {name},\n" for name in self.class_names)
        lines.append("#: Manifest type name -> the class the runtime builds for it (generated or hand-written).")
        lines.append("TYPE_CLASSES: dict[str, type] = {\n" + entries + "}")
        exported = sorted([*self.class_names, *self.alias_names, "TYPE_CLASSES"])
        lines += ["", "__all__ = [" + ", ".join(repr(n) for n in exported) + "]", ""]
        return "\n".join(lines)

    def _domain_imports(self) -> list[str]:
        by_module: dict[str, list[str]] = {}
        for name, cls in self.domain.items():
            spec = cls.__qualname__ if cls.__qualname__ == name else f"{cls.__qualname__} as {name}"
            if "." in cls.__qualname__:
                raise CodegenError(
                    f"types.{name}: domain class {cls.__qualname__} is nested; export it at module level"
                )
            by_module.setdefault(cls.__module__, []).append(spec)
        return [f"from {module} import {', '.join(sorted(specs))}" for module, specs in sorted(by_module.items())]

    def _class(self, name: str) -> str:
        schema = self.manifest.types[name]
        body = [docstring(schema.description or f"The manifest type ``{name}``.", 4), ""]
        for prop, prop_schema in schema.properties.items():
            field = python_identifier(attr_name(prop), f"types.{name}.properties.{prop}")
            annotation = self.mapper.annotation(prop_schema)
            default = _default(prop_schema)
            if default is not NO_DEFAULT:
                line = f"    {field}: {annotation} = {_default_expr(default)}"
            elif prop in schema.required:
                line = f"    {field}: {annotation}"
            else:
                if not annotation.endswith("| None") and annotation != "Any":
                    annotation += " | None"
                line = f"    {field}: {annotation} = None"
            body.append(line)
            if prop_schema.description:
                body.append(docstring(prop_schema.description, 4))
        return "@attrs.frozen(kw_only=True)\nclass " + name + ":\n" + "\n".join(body) + "\n\n\n"

    def _aliases(self) -> list[str]:
        names = self.alias_names
        alias_set = set(names)
        deps = {n: self.mapper.references(self.manifest.types[n]) & alias_set for n in names}
        out = []
        for name in _alias_order(names, deps):
            schema = self.manifest.types[name]
            text = f"{name}: TypeAlias = {self.mapper.annotation(schema)}\n"
            text += docstring(schema.description or f"The manifest type ``{name}``.", 0) + "\n\n"
            out.append(text)
        return out
