"""Plugin-owned, typed settings: how a plugin declares everything it reads.

A plugin answers ``pristine_settings()`` with a :class:`PluginSettings` naming attrs classes for
its manifest sections (``features.<name>`` or top-level keys), its per-endpoint keys (also
accepted in the manifest's ``defaults``), its ``Client(config=...)`` keys and its per-call
option keys. The core structures all of them with its one strict converter: unknown keys and
wrong values become :class:`~pristine_core.errors.ManifestError` /
:class:`~pristine_core.errors.ValidationError` problems with JSON paths and "did you mean"
suggestions. Plugins read the results typed::

    manifest.section("features.cache")        # the structured section (or None)
    endpoint.settings_of(CacheEndpoint)        # per-endpoint keys (defaults applied)
    client.meta.settings_of(CacheConfig)       # Client(config=...) keys
    call.settings_of(CacheOptions)             # per-call option keys

Declare settings classes with :func:`settings` (``attrs.frozen``: frozen, slotted). Value checks
are declared on the fields with the validators below (or any attrs validator); their messages name
the field, and the core turns them into paths.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
from attrs import frozen as settings

T = TypeVar("T")

__all__ = [
    "PluginSettings",
    "at_least",
    "between",
    "non_empty",
    "positive",
    "settings",
    "status_codes",
    "structure_as",
    "unique",
    "with_changes",
]


@attrs.frozen
class PluginSettings:
    """What one plugin reads, as attrs classes (every field of ``endpoint``, ``config`` and
    ``options`` needs a default: a key the user leaves out keeps it).

    ``sections`` maps a manifest path (``"features.cache"`` or a top-level key such as
    ``"pools"``) to the type it structures into (an attrs class, or e.g. ``dict[str, Cls]``).
    """

    sections: Mapping[str, Any] = attrs.Factory(dict)
    endpoint: type | None = None
    config: type | None = None
    options: type | None = None


def _fail(attribute: attrs.Attribute, message: str) -> None:  # type: ignore[type-arg]
    raise ValueError(f"'{attribute.name}' {message}")


def _number(value: Any) -> bool:
    return type(value) in (int, float)


def at_least(minimum: float) -> Callable[[Any, attrs.Attribute, Any], None]:  # type: ignore[type-arg]
    """The value (when not None) is >= ``minimum``."""

    def check(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
        if value is not None and _number(value) and value < minimum:
            _fail(attribute, f"must be >= {minimum:g}")

    return check


def positive(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    """The value (when not None) is > 0."""
    if value is not None and _number(value) and value <= 0:
        _fail(attribute, "must be positive")


def between(low: float, high: float) -> Callable[[Any, attrs.Attribute, Any], None]:  # type: ignore[type-arg]
    """The value (when not None) lies in ``[low, high]``."""

    def check(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
        if value is not None and _number(value) and not low <= value <= high:
            _fail(attribute, f"must be between {low:g} and {high:g}")

    return check


def non_empty(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    """Strings and collections (when not None) are not empty."""
    if value is not None and hasattr(value, "__len__") and len(value) == 0:
        _fail(attribute, "must not be empty")


def unique(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    """The items of a sequence are unique."""
    if value is not None and len(set(value)) != len(value):
        _fail(attribute, "items must be unique")


def status_codes(_: Any, attribute: attrs.Attribute, value: Any) -> None:  # type: ignore[type-arg]
    """Every item (or key) is an HTTP status code, as an int or a string of digits."""
    for item in value or ():
        code = int(item) if isinstance(item, str) and item.isdigit() else item
        if type(code) is not int or not 100 <= code <= 599:
            _fail(attribute, f"must hold HTTP status codes, got {item!r}")


def with_changes(base: T, changes: Mapping[str, Any], path: str) -> T:
    """``base`` (a settings instance) with ``changes`` applied, structured and checked exactly
    like the manifest; raises :class:`~pristine_core.errors.ValidationError` naming
    ``path.<key>`` for unknown keys (with a suggestion) and bad values."""
    current = {a.name: getattr(base, a.name) for a in attrs.fields(type(base)) if a.init}  # type: ignore[arg-type]
    merged = {**current, **changes} if isinstance(changes, Mapping) else changes
    return structure_as(type(base), merged, path)


def structure_as(cls: type[T], data: Any, path: str) -> T:
    """``data`` structured into ``cls`` by the core's strict converter; ValidationError naming
    paths under ``path`` when it does not fit."""
    from pristine_core.errors import ValidationError
    from pristine_core.manifest._converter import structure

    value, problems = structure(data, cls, path)
    if problems:
        raise ValidationError(problems)
    return value  # type: ignore[no-any-return]
