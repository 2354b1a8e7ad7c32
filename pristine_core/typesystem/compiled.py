"""The converter of manifest types: each type compiled once into a closure.

A converter turns a value into wire JSON (strict: unknown fields are errors; it guards requests)
or into instances of the registry's classes (lenient: unknown fields are ignored, so servers may
add fields). A value that does not fit raises :class:`Invalid` listing every problem, each with
its path relative to the value: a container adds its key or index to the paths its parts raise,
so a valid value pays for no path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from pristine_core.manifest.models import NO_DEFAULT, TypeSchema
from pristine_core.typesystem.classes import attr_name
from pristine_core.typesystem.scalars import (
    Errors,
    Invalid,
    base64_text,
    boolean,
    describe,
    integer,
    number,
    plain,
    text,
    under,
    wrong,
)

Conv = Callable[[Any], Any]
_MISSING = object()

#: The base converters whose values are exactly of one type when they need no converting.
_EXACT: dict[Conv, type] = {text: str, integer: int, boolean: bool}


def _sequence(value: Any) -> Any:
    kind = type(value)
    if kind is list or kind is tuple:
        return value
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise wrong("an array", value)
    return list(value)


def _array_problems(item: Conv, seq: Any, minimum: int | None) -> Errors:
    """Every problem of an array that failed: each bad item by its index, then a short length."""
    problems: Errors = []
    for i, value in enumerate(seq):
        try:
            item(value)
        except Invalid as exc:
            under(f"[{i}]", exc.errors, problems)
    if minimum is not None and len(seq) < minimum:
        problems.append(("", f"must have at least {minimum} items"))
    return problems


def _identity(value: Any) -> Any:
    return value


class Compiler:
    """Compiles the named types of one manifest for one direction (strict dump or lenient parse)."""

    def __init__(
        self, types: Mapping[str, TypeSchema], *, strict: bool, classes: Mapping[str, type] | None = None
    ) -> None:
        self.types = types
        self.strict = strict
        self.classes = dict(classes or {}) if not strict else {}
        self._named: dict[str, Conv] = {}
        # Converters being compiled (placeholders for recursive references) and those finished
        # inside the current outermost compilation: only the compiling thread sees them, and
        # they are published together, once every placeholder they may call is filled.
        self._staged: dict[str, Conv] = {}
        self._lock = threading.RLock()

    def named(self, name: str) -> Conv:
        """The converter of type ``name`` (compiled on first use; recursion- and thread-safe)."""
        conv = self._named.get(name)
        if conv is not None:
            return conv
        with self._lock:
            conv = self._named.get(name) or self._staged.get(name)
            if conv is not None:
                return conv
            outermost = not self._staged
            slot: list[Conv] = []
            self._staged[name] = lambda value: slot[0](value)
            try:
                compiled = self.compile(self.types[name], name)
            except BaseException:
                if outermost:
                    self._staged.clear()
                raise
            slot.append(compiled)
            self._staged[name] = compiled
            if outermost:
                self._named.update(self._staged)
                self._staged.clear()
            return compiled

    def compile(self, schema: TypeSchema, name: str | None = None) -> Conv:
        """A converter for ``schema`` (``name`` when it is a named type)."""
        conv = self._body(schema, name)
        if not schema.nullable:
            return conv
        return lambda value: None if value is None else conv(value)

    def _target(self, schema: TypeSchema) -> TypeSchema:
        """The type a ``$ref`` chain names (``schema`` itself without one; stops at cycles)."""
        for _ in range(64):
            if schema.ref is None or schema.ref not in self.types:
                break
            schema = self.types[schema.ref]
        return schema

    def _body(self, schema: TypeSchema, name: str | None = None) -> Conv:
        """The converter of ``schema`` without its ``nullable``: it refuses None ("must not be
        null") unless the type takes anything, so a value known not to be None pays no null check."""
        if schema.ref is not None:
            if self._target(schema).ref is not None:  # an unknown name or a loop of names: the
                return _identity  # manifest checks report the first; the second takes anything
            return self.named(schema.ref)
        if schema.one_of:
            return self._union(schema)
        kind = schema.type
        if kind == "object":
            if not schema.properties and schema.additional_properties is not False:
                return self._map(schema)
            return self._object(schema, name)
        if kind == "array":
            return self._array(schema)
        if kind in ("string", "integer", "number", "boolean"):
            return self._scalar(schema)
        return _identity

    @staticmethod
    def _scalar(schema: TypeSchema) -> Conv:
        kind = schema.type
        if kind == "string":
            base: Conv = base64_text if schema.format == "base64" else text
        else:
            base = {"integer": integer, "number": number, "boolean": boolean}[str(kind)]
        checks: list[tuple[Callable[[Any], bool], str]] = []
        if kind == "string" and schema.min_length is not None:
            shortest = schema.min_length
            checks.append((lambda v: len(v) >= shortest, f"must be at least {shortest} characters"))
        if kind == "string" and schema.max_length is not None:
            longest = schema.max_length
            checks.append((lambda v: len(v) <= longest, f"must be at most {longest} characters"))
        if kind in ("integer", "number") and schema.minimum is not None:
            low = schema.minimum
            checks.append((lambda v: v >= low, f"must be >= {low:g}"))
        if kind in ("integer", "number") and schema.maximum is not None:
            high = schema.maximum
            checks.append((lambda v: v <= high, f"must be <= {high:g}"))
        if schema.enum is not None:
            allowed = schema.enum
            checks.append((lambda v: v in allowed, "must be one of " + ", ".join(map(str, allowed))))
        if schema.const is not NO_DEFAULT:
            const = schema.const
            checks.append((lambda v: v == const, f"must be {const!r}"))
        if not checks:
            return base

        def checked(value: Any) -> Any:
            out = base(value)
            for ok, _message in checks:
                if not ok(out):
                    raise Invalid([("", message) for test, message in checks if not test(out)])
            return out

        return checked

    def _array(self, schema: TypeSchema) -> Conv:
        item = self.compile(schema.items or TypeSchema(type="any"))
        minimum = schema.min_length
        # Bare scalar items (compiled to a base converter: no constraint, no null) skip most calls.
        numeric = item is number
        exact = _EXACT.get(item)

        def array(value: Any) -> list[Any]:
            seq = _sequence(value)
            try:
                if numeric:
                    out = [v if type(v) is float or type(v) is int else number(v) for v in seq]
                elif exact is not None:
                    out = [v if type(v) is exact else item(v) for v in seq]
                else:
                    out = [item(v) for v in seq]
            except Invalid:
                raise Invalid(_array_problems(item, seq, minimum)) from None
            if minimum is not None and len(seq) < minimum:
                raise Invalid(_array_problems(item, seq, minimum))
            return out

        return array

    def _map(self, schema: TypeSchema) -> Conv:
        extra = schema.additional_properties
        item = self.compile(extra) if isinstance(extra, TypeSchema) else _identity

        def mapping(value: Any) -> dict[str, Any]:
            if not isinstance(value, Mapping):
                raise wrong("an object", value)
            if item is _identity and all(isinstance(k, str) for k in value):
                return dict(value)
            out = {}
            problems: Errors = []
            for key, raw in value.items():
                if not isinstance(key, str):
                    problems.append(("", f"keys must be strings, got {describe(key)}"))
                else:
                    try:
                        out[key] = item(raw)
                    except Invalid as exc:
                        under(key, exc.errors, problems)
            if problems:
                raise Invalid(problems)
            return out

        return mapping

    def _union(self, schema: TypeSchema) -> Conv:
        tag_field = schema.discriminator or "type"
        tag_attr = attr_name(tag_field)
        by_tag: dict[Any, Conv] = {}
        by_class: list[tuple[type, Conv]] = []
        for variant in schema.one_of:
            tag_schema = self._target(variant).properties.get(tag_field)
            conv = self.compile(variant)
            if tag_schema is not None:
                tags = [tag_schema.const] if tag_schema.const is not NO_DEFAULT else list(tag_schema.enum or ())
                for tag in tags:
                    by_tag.setdefault(tag, conv)
            cls = self.classes.get(variant.ref) if variant.ref else None
            if cls is not None:
                by_class.append((cls, conv))

        def union(value: Any) -> Any:
            if isinstance(value, Mapping):
                tag = value.get(tag_field, _MISSING)
            elif value is None:
                raise wrong("an object", value)
            else:
                tag = getattr(value, tag_attr, _MISSING)
            if tag is _MISSING:
                for cls, conv in by_class:
                    if isinstance(value, cls):
                        return conv(value)
                raise Invalid([(tag_field, "required discriminator is missing")])
            key = tag if type(tag) is str else plain(tag)
            chosen = by_tag.get(key) if isinstance(key, str) else None
            if chosen is None:
                raise Invalid([(tag_field, f"unknown variant {tag!r}")])
            return chosen(value)

        return union

    def _object(self, schema: TypeSchema, name: str | None) -> Conv:
        strict = self.strict
        cls = self.classes.get(name) if name else None
        fields = []
        for prop, sub in schema.properties.items():
            nullable = sub.nullable or self._target(sub).nullable
            fallback = sub.default if sub.default is not NO_DEFAULT else sub.const  # or NO_DEFAULT
            keep_null = (not strict) or sub.explicit_null or prop in schema.required
            fields.append((prop, self._body(sub), fallback, prop in schema.required, nullable, keep_null))
        known = frozenset(schema.properties)
        extra = schema.additional_properties
        extra_conv = self.compile(extra) if isinstance(extra, TypeSchema) else _identity
        #: No property needs renaming (none is a Python keyword): the dict fits ``cls`` as it is.
        plain = all(attr_name(prop) == prop for prop in known)

        def obj(value: Any) -> Any:
            is_dict = type(value) is dict or isinstance(value, Mapping)
            if is_dict:
                get = value.get
            elif hasattr(value, "__dict__") or hasattr(value, "__slots__"):

                def get(key: str, default: Any, _v: Any = value) -> Any:
                    return getattr(_v, attr_name(key), default)

            else:
                raise wrong("an object", value)
            out: dict[str, Any] = {}
            problems: Errors = []
            for prop, conv, fallback, required, nullable, keep_null in fields:
                raw = get(prop, _MISSING)
                if raw is None and not nullable:
                    raw = _MISSING
                if raw is _MISSING:
                    if fallback is NO_DEFAULT:
                        if required:
                            problems.append((prop, "required field is missing"))
                        continue
                    raw = fallback
                if raw is None:
                    if keep_null:
                        out[prop] = None
                    continue
                try:
                    out[prop] = conv(raw)
                except Invalid as exc:
                    under(prop, exc.errors, problems)
            if strict and is_dict and not known.issuperset(value):
                for key in value:
                    if key in known:
                        continue
                    if extra is False:
                        problems.append((str(key), "unknown field"))
                        continue
                    try:
                        out[key] = extra_conv(value[key])
                    except Invalid as exc:
                        under(str(key), exc.errors, problems)
            built: Any = out
            if cls is not None:
                try:
                    built = cls(**out) if plain else cls(**{attr_name(k): v for k, v in out.items()})
                except (TypeError, ValueError) as exc:
                    problems.append(("", f"cannot build {cls.__name__}: {exc}"))
            if problems:
                raise Invalid(problems)
            return built

        return obj


def to_wire(types: Mapping[str, TypeSchema], schema: TypeSchema, value: Any) -> tuple[Any, Errors]:
    """Strictly convert ``value`` to wire JSON: ``(json, [])``, or ``(None, errors)`` naming every
    problem with its path."""
    try:
        return Compiler(types, strict=True).compile(schema)(value), []
    except Invalid as exc:
        return None, exc.errors
