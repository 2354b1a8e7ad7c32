"""The typed ``features.environment`` block: which environment variable feeds what.

Declared to the core through ``pristine_settings()`` (the core structures and checks it with its
strict converter; problems name their JSON path). See :mod:`pristine_plugins.environment.reader`
for the targets and how values are read.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from pristine_core.contract import PluginSettings

FEATURE = "environment"
#: The manifest path of the block this plugin declares.
SECTION = "features.environment"
Target = Literal[
    "header", "headers", "query", "proxy", "proxy_headers", "dump_headers", "log_level",
    "pool_connections", "host_pools", "default_pool", "profile", "config",
]
#: The keys a variable may carry besides ``to``, per target.
_TARGET_KEYS: dict[str, frozenset[str]] = {
    "header": frozenset({"name", "secret"}),
    "log_level": frozenset({"loggers"}),
    "profile": frozenset({"profiles", "aliases", "default"}),
    "config": frozenset({"key", "format", "default"}),
}
UNSET: Any = attrs.make_class("Unset", [], slots=True)()


@attrs.frozen
class Profile:
    """One named profile: a timeout and config defaults."""

    timeout_s: float | None = None
    config: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen
class Variable:
    """What one environment variable feeds (``to``) and the keys its target takes."""

    to: Target
    name: str | None = None
    secret: bool | None = None
    loggers: tuple[str, ...] | None = None
    profiles: dict[str, Profile] | None = None
    aliases: dict[str, str] | None = None
    key: str | None = None
    format: Literal["str", "bool", "int", "list", "json"] | None = None
    default: Any = UNSET

    def __attrs_post_init__(self) -> None:
        allowed = _TARGET_KEYS.get(self.to, frozenset())
        for field in attrs.fields(Variable)[1:]:
            value = getattr(self, field.name)
            if field.name not in allowed and value is not None and value is not UNSET:
                raise ValueError(f"'{field.name}' does not apply to a {self.to!r} variable")
        if self.to == "header" and not (self.name or "").strip():
            raise ValueError("'name' is required: the header's name")
        if self.to == "config" and not self.key:
            raise ValueError("'key' is required: a dotted config key")
        if self.to == "profile":
            if not self.profiles:
                raise ValueError("'profiles' is required: {name: {timeout_s, config}}")
            for alias, target in (self.aliases or {}).items():
                if target not in self.profiles:
                    raise ValueError(f"'aliases' names an unknown profile {target!r} (for {alias!r})")
            if self.default is not UNSET and self.default not in self.profiles:
                raise ValueError(f"'default' names an unknown profile {self.default!r}")


@attrs.frozen
class EnvironmentBlock:
    """The ``features.environment`` block."""

    variables: dict[str, Variable] = attrs.Factory(dict)
    platform_headers: dict[str, Literal["os", "arch", "runtime", "runtime_version", "python_version"]] = (
        attrs.Factory(dict)
    )



#: Everything this plugin reads: the ``features.environment`` block.
SETTINGS = PluginSettings(sections={SECTION: EnvironmentBlock})
