"""Compiled converters: the fast path of :mod:`wire`.

Each type is compiled once into a closure that converts a value or raises ``_Fail`` at the
first problem. On failure the registry re-runs the interpretive :class:`wire.Walker`, which is
the reference semantics and reports every problem with its path. So this module only has to
agree with the walker on *valid* input; tests check that they agree.
"""

from __future__ import annotations

import base64
import enum
import numbers
import threading
from collections.abc import Callable, Mapping
from typing import Any

from pristine_core.manifest.models import NO_DEFAULT, TypeSchema
from pristine_core.typesystem.classes import attr_name

Conv = Callable[[Any], Any]
_MISSING = object()


class _Fail(Exception):
    """The fast path gave up; the walker will explain why."""


def _number(value: Any) -> Any:
    kind = type(value)
    if kind is float or kind is int:
        return value
    if kind is bool or not isinstance(value, numbers.Real):
        raise _Fail
    return float(value)


def _integer(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return value
    if kind is bool:
        raise _Fail
    if kind is float and value.is_integer():
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    raise _Fail


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
        if schema.ref is not None:
            inner = self.named(schema.ref)
            target = self.types[schema.ref]
            nullable = schema.nullable or target.nullable
            return self._nullable(inner) if nullable else self._not_null(inner)
        conv = self._compile_body(schema, name)
        return self._nullable(conv) if schema.nullable or schema.type == "any" else self._not_null(conv)

    @staticmethod
    def _nullable(conv: Conv) -> Conv:
        return lambda value: None if value is None else conv(value)

    @staticmethod
    def _not_null(conv: Conv) -> Conv:
        def check(value: Any) -> Any:
            if value is None:
                raise _Fail
            return conv(value)

        return check

    def _compile_body(self, schema: TypeSchema, name: str | None) -> Conv:
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
        return lambda value: value

    def _scalar(self, schema: TypeSchema) -> Conv:
        kind = schema.type
        strict = self.strict
        if kind == "string":

            def base(value: Any) -> Any:
                if type(value) is str:
                    return value
                if strict and isinstance(value, enum.Enum) and isinstance(value.value, str):
                    return value.value
                if strict and schema.format == "base64" and isinstance(value, (bytes, bytearray)):
                    return base64.b64encode(bytes(value)).decode("ascii")
                if isinstance(value, str):
                    return str(value)
                raise _Fail

        elif kind == "integer":
            base = _integer
        elif kind == "number":
            base = _number
        else:

            def base(value: Any) -> Any:
                if type(value) is bool:
                    return value
                raise _Fail

        checks = []
        if schema.enum is not None:
            allowed = schema.enum
            checks.append(lambda v: v in allowed)
        if schema.const is not NO_DEFAULT:
            const = schema.const
            checks.append(lambda v: v == const)
        if schema.minimum is not None:
            low = schema.minimum
            checks.append(lambda v: v >= low)
        if schema.maximum is not None:
            high = schema.maximum
            checks.append(lambda v: v <= high)
        if kind == "string" and schema.min_length is not None:
            shortest = schema.min_length
            checks.append(lambda v: len(v) >= shortest)
        if kind == "string" and schema.max_length is not None:
            longest = schema.max_length
            checks.append(lambda v: len(v) <= longest)
        if not checks:
            return base

        def checked(value: Any) -> Any:
            if strict and isinstance(value, enum.Enum):
                value = value.value
            out = base(value)
            for check in checks:
                if not check(out):
                    raise _Fail
            return out

        return checked

    def _array(self, schema: TypeSchema) -> Conv:
        item_schema = schema.items or TypeSchema(type="any")
        minimum = schema.min_length
        simple = item_schema.ref is None and not item_schema.nullable and item_schema.enum is None
        simple = (
            simple and item_schema.const is NO_DEFAULT and item_schema.minimum is None and item_schema.maximum is None
        )
        if simple and item_schema.type == "number":

            def numbers_only(value: Any) -> list[Any]:
                seq = _sequence(value)
                out = [v if type(v) is float or type(v) is int else _number(v) for v in seq]
                if minimum is not None and len(out) < minimum:
                    raise _Fail
                return out

            return numbers_only
        if simple and item_schema.type == "integer":

            def integers_only(value: Any) -> list[Any]:
                seq = _sequence(value)
                out = [v if type(v) is int else _integer(v) for v in seq]
                if minimum is not None and len(out) < minimum:
                    raise _Fail
                return out

            return integers_only
        if simple and item_schema.type in ("string", "boolean") and item_schema.min_length is None:
            exact = str if item_schema.type == "string" else bool
            slow = self.compile(item_schema)

            def scalars(value: Any) -> list[Any]:
                seq = _sequence(value)
                for v in seq:
                    if type(v) is not exact:
                        out = [slow(v) for v in seq]
                        break
                else:
                    out = list(seq)
                if minimum is not None and len(out) < minimum:
                    raise _Fail
                return out

            return scalars
        item = self.compile(item_schema)

        def array(value: Any) -> list[Any]:
            out = [item(v) for v in _sequence(value)]
            if minimum is not None and len(out) < minimum:
                raise _Fail
            return out

        return array

    def _map(self, schema: TypeSchema) -> Conv:
        item = (
            self.compile(schema.additional_properties) if isinstance(schema.additional_properties, TypeSchema) else None
        )

        def mapping(value: Any) -> dict[str, Any]:
            if not isinstance(value, Mapping):
                raise _Fail
            if item is None:
                if not all(type(k) is str for k in value):
                    raise _Fail
                return dict(value)
            out = {}
            for key, raw in value.items():
                if type(key) is not str:
                    raise _Fail
                out[key] = item(raw)
            return out

        return mapping

    def _union(self, schema: TypeSchema) -> Conv:
        tag_field = schema.discriminator or "type"
        by_tag: dict[Any, Conv] = {}
        by_class: list[tuple[type, Conv]] = []
        for variant in schema.one_of:
            target = self.types[variant.ref] if variant.ref else variant
            tag_schema = target.properties.get(tag_field)
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
            else:
                tag = getattr(value, tag_field, _MISSING)
            if tag is _MISSING:
                for cls, conv in by_class:
                    if isinstance(value, cls):
                        return conv(value)
                raise _Fail
            chosen = by_tag.get(tag) if type(tag) is str else None
            if chosen is None:
                raise _Fail
            return chosen(value)

        return union

    def _present(self, schema: TypeSchema) -> Conv:
        """The converter of a value known not to be None: an object's field (``obj`` deals with
        None itself, so the null check of :meth:`compile` would only cost a call)."""
        if schema.ref is not None:
            return self.named(schema.ref)
        return self._compile_body(schema, None)

    def _object(self, schema: TypeSchema, name: str | None) -> Conv:
        strict = self.strict
        cls = self.classes.get(name) if name else None
        fields = []
        for prop, sub in schema.properties.items():
            nullable = sub.nullable or (sub.ref is not None and self.types[sub.ref].nullable)
            fallback: Any = _MISSING
            if sub.default is not NO_DEFAULT:
                fallback = sub.default
            elif sub.const is not NO_DEFAULT:
                fallback = sub.const
            keep_null = (not strict) or sub.explicit_null or prop in schema.required
            fields.append(
                (prop, attr_name(prop), self._present(sub), fallback, prop in schema.required, nullable, keep_null)
            )
        known = frozenset(schema.properties)
        extra = schema.additional_properties
        extra_conv = self.compile(extra) if isinstance(extra, TypeSchema) else None
        #: No property needs renaming (none is a Python keyword): the dict fits ``cls`` as it is.
        plain = all(attr == prop for prop, attr, *_ in fields)

        def obj(value: Any) -> Any:
            is_dict = type(value) is dict or isinstance(value, Mapping)
            if is_dict:
                get = value.get
            elif hasattr(value, "__dict__") or hasattr(value, "__slots__"):

                def get(key: str, default: Any, _v: Any = value) -> Any:
                    return getattr(_v, attr_name(key), default)

            else:
                raise _Fail
            out: dict[str, Any] = {}
            renamed = not plain
            for prop, _attr, conv, fallback, required, nullable, keep_null in fields:
                raw = get(prop, _MISSING)
                if raw is None and not nullable:
                    raw = _MISSING
                if raw is _MISSING:
                    if fallback is not _MISSING:
                        raw = fallback
                    elif required:
                        raise _Fail
                    else:
                        continue
                if raw is None:
                    if keep_null:
                        out[prop] = None
                    continue
                out[prop] = conv(raw)
            if strict and is_dict and len(value) > len(out):
                for key in value:
                    if key not in known:
                        if extra is False:
                            raise _Fail
                        out[key] = extra_conv(value[key]) if extra_conv is not None else value[key]
                        renamed = True
            if cls is not None:
                try:
                    if not renamed:
                        return cls(**out)
                    return cls(**{attr_name(k): v for k, v in out.items()})
                except (TypeError, ValueError):
                    raise _Fail from None
            return out

        return obj


def _sequence(value: Any) -> Any:
    kind = type(value)
    if kind is list or kind is tuple:
        return value
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise _Fail
    return list(value)


Fail = _Fail
