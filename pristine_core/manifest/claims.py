"""Who reads which key: the plugins' declared settings, merged, and structuring with them.

A :class:`SettingsSchema` is built from the ``pristine_settings`` answers of a plugin set. It
splits raw manifest data into what the core reads and what each plugin claimed, structures the
claimed parts with the plugin's classes (one strict converter, JSON paths), and does the same for
``Client(config=...)`` and per-call options. A manifest key nobody claims is *unclaimed*: an error
when it is close to a known key (a typo), else kept aside for ``pristine manifest validate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from pristine_core.contract import PluginSettings, at_least
from pristine_core.errors import PluginLoadError
from pristine_core.manifest import models
from pristine_core.manifest._converter import Problems, join, structure, suggestion

_LOADER_OWNED = frozenset({"sections", "unclaimed", "data", "schema_key"})
CORE_TOP = frozenset(a.name for a in attrs.fields(models.Manifest)) - _LOADER_OWNED | {"$schema"}
CORE_ENDPOINT = frozenset(a.name for a in attrs.fields(models.Endpoint)) - {"name", "resource", "settings"}
CORE_DEFAULTS = frozenset(a.name for a in attrs.fields(models.Defaults))
#: The per-call options the core itself reads (``RequestOptions`` fields).
CORE_OPTIONS = frozenset({"timeout_s", "headers", "query", "pool", "extensions"})


@attrs.frozen
class Claim:
    """A key (or section path) and the plugin class that reads it."""

    plugin: str
    cls: Any


@attrs.define
class Split:
    """Raw manifest data divided between the core and the claiming plugins."""

    core: dict[str, Any]
    sections: dict[str, Any] = attrs.Factory(dict)
    defaults: dict[str, Any] = attrs.Factory(dict)
    endpoints: dict[tuple[str, str], dict[str, Any]] = attrs.Factory(dict)
    problems: Problems = attrs.Factory(list)
    unclaimed: list[str] = attrs.Factory(list)


@attrs.frozen
class CoreConfig:
    """The ``Client(config=...)`` keys the core itself reads: ``event_metadata`` (fields added to
    every request event, e.g. the user's metadata) and ``scheduler_workers`` (worker threads of
    the client's scheduler; None: the manifest's ``defaults.scheduler_workers``)."""

    event_metadata: Mapping[str, Any] | None = None
    scheduler_workers: int | None = attrs.field(default=None, validator=at_least(1))


#: What the core itself reads beyond its models: ``CoreConfig`` and ``CoreOptions``.
@attrs.frozen
class CoreOptions:
    """The per-call option keys the core itself reads besides ``RequestOptions``' fields:
    ``max_response_bytes`` (the response size cap of this call, enforced while reading)."""

    max_response_bytes: int | None = attrs.field(default=None, validator=at_least(1))


def _core_settings() -> PluginSettings:
    return PluginSettings(config=CoreConfig, options=CoreOptions)


class SettingsSchema:
    """The merged declarations of one plugin set (see :mod:`pristine_core.contract`), the core's
    own (:class:`CoreConfig` and :class:`CoreOptions`, as plugin ``"pristine"``) first."""

    def __init__(self, declared: Sequence[tuple[str, PluginSettings]] = ()) -> None:
        self.sections: dict[str, Claim] = {}
        self.endpoint_keys: dict[str, Claim] = {}
        self.config_keys: dict[str, Claim] = {}
        self.option_keys: dict[str, Claim] = {}
        key: list[Any] = []
        for plugin, decl in [("pristine", _core_settings()), *declared]:
            for path, cls in decl.sections.items():
                top = path.partition(".")[0]
                if top in CORE_TOP and top != "features":
                    raise PluginLoadError(f"plugin {plugin!r} claims {path!r}, which the core owns")
                self._claim(self.sections, path, Claim(plugin, cls), "manifest section")
            self._claim_fields(plugin, decl.endpoint, self.endpoint_keys, CORE_ENDPOINT, "endpoint key")
            self._claim_fields(plugin, decl.config, self.config_keys, frozenset(), "config key")
            self._claim_fields(plugin, decl.options, self.option_keys, CORE_OPTIONS, "call option")
            key.append((plugin, tuple(decl.sections.items()), decl.endpoint, decl.config, decl.options))
        self.key = tuple(key)
        self._option_defaults: dict[Any, Any] = {}

    @staticmethod
    def _claim(table: dict[str, Claim], key: str, claim: Claim, what: str) -> None:
        other = table.get(key)
        if other is not None and other.plugin != claim.plugin:
            raise PluginLoadError(f"plugins {other.plugin!r} and {claim.plugin!r} both declare the {what} {key!r}")
        table[key] = claim

    def _claim_fields(
        self, plugin: str, cls: type | None, table: dict[str, Claim], core: frozenset[str], what: str
    ) -> None:
        if cls is None:
            return
        if not attrs.has(cls):
            raise PluginLoadError(f"plugin {plugin!r}: {what} settings must be an attrs class, got {cls!r}")
        for field in attrs.fields(cls):
            if field.name in core:
                raise PluginLoadError(f"plugin {plugin!r} declares the {what} {field.name!r}, which the core owns")
            if field.default is attrs.NOTHING:
                raise PluginLoadError(f"plugin {plugin!r}: {what} {field.name!r} needs a default")
            self._claim(table, field.name, Claim(plugin, cls), what)

    @classmethod
    def from_hooks(cls, pm: Any) -> SettingsSchema:
        """Ask every registered plugin of a pluggy manager for its declarations."""
        declared = []
        for impl in reversed(pm.hook.pristine_settings.get_hookimpls()):
            answer = impl.function()
            if answer is None:
                continue
            if not isinstance(answer, PluginSettings):
                raise PluginLoadError(f"plugin {impl.plugin_name!r}: pristine_settings must return PluginSettings")
            declared.append((impl.plugin_name, answer))
        return cls(declared)

    # -- the manifest ---------------------------------------------------------------------

    def owner(self, path: str) -> str | None:
        """The plugin that reads a manifest path (a section, or an endpoint/defaults key)."""
        if path in self.sections:
            return self.sections[path].plugin
        claim = self.endpoint_keys.get(path.rsplit(".", 1)[-1])
        if claim is not None and (path.startswith("resources.") or path.startswith("defaults.")):
            return claim.plugin
        return None

    def split(self, data: Mapping[str, Any]) -> Split:
        """Divide raw (already normalised) manifest data between the core and the plugins."""
        out = Split(core={})
        for key, value in data.items():
            if key == "features":
                if not isinstance(value, Mapping):
                    out.problems.append(("features", "expected an object"))
                    continue
                claimed = [p.partition(".")[2] for p in self.sections if p.startswith("features.")]
                for name, block in value.items():
                    path = f"features.{name}"
                    self._route(path, name, block, claimed, out.sections, out)
            elif key in CORE_TOP:
                out.core[key] = value
            else:
                known = sorted(CORE_TOP | {p for p in self.sections if "." not in p})
                self._route(key, key, value, known, out.sections, out)
        defaults = data.get("defaults")
        if isinstance(defaults, Mapping):
            out.core["defaults"], out.defaults = self._split_keys("defaults", defaults, CORE_DEFAULTS, out)
        resources = data.get("resources")
        if isinstance(resources, Mapping):
            core_resources: dict[str, Any] = {}
            for rname, group in resources.items():
                if not isinstance(group, Mapping):
                    core_resources[rname] = group
                    continue
                core_resources[rname] = {}
                for ename, endpoint in group.items():
                    if not isinstance(endpoint, Mapping):
                        core_resources[rname][ename] = endpoint
                        continue
                    at = f"resources.{rname}.{ename}"
                    core_ep, plugin_keys = self._split_keys(at, endpoint, CORE_ENDPOINT, out)
                    core_resources[rname][ename] = core_ep
                    if plugin_keys:
                        out.endpoints[(rname, ename)] = plugin_keys
            out.core["resources"] = core_resources
        return out

    def _route(
        self, path: str, key: str, value: Any, known: Iterable[str], table: dict[str, Any], out: Split
    ) -> None:
        if path in self.sections:
            table[path] = value
            return
        hint = suggestion(key, known)
        if hint:
            out.problems.append((path, "unknown key" + hint))
        else:
            out.unclaimed.append(path)

    def _split_keys(
        self, at: str, node: Mapping[str, Any], core: frozenset[str], out: Split
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        core_part: dict[str, Any] = {}
        plugin_part: dict[str, Any] = {}
        for key, value in node.items():
            if key in core:
                core_part[key] = value
            elif key in self.endpoint_keys:
                plugin_part[key] = value
            else:
                hint = suggestion(key, sorted(core | set(self.endpoint_keys)))
                if hint:
                    out.problems.append((join(at, key), "unknown key" + hint))
                else:
                    out.unclaimed.append(join(at, key))
        return core_part, plugin_part

    def structure_sections(self, split: Split) -> tuple[dict[str, Any], Problems]:
        """Every claimed section structured by its plugin's declared type."""
        sections: dict[str, Any] = {}
        problems: Problems = []
        for path, raw in split.sections.items():
            value, found = structure(raw, self.sections[path].cls, path)
            problems += found
            if not found:
                sections[path] = value
        return sections, problems

    def structure_endpoints(self, split: Split) -> tuple[dict[tuple[str, str], dict[type, Any]], Problems]:
        """Per-endpoint plugin settings with the ``defaults`` applied, keyed by class."""
        problems: Problems = []
        base_raw: dict[Any, dict[str, Any]] = {}
        base: dict[Any, Any] = {}
        for key, value in split.defaults.items():
            base_raw.setdefault(self.endpoint_keys[key].cls, {})[key] = value
        for cls, raw in base_raw.items():
            value, found = structure(raw, cls, "defaults")
            problems += found
            if found:
                base_raw[cls] = {}
            else:
                base[cls] = value
        out: dict[tuple[str, str], dict[type, Any]] = {}
        for (rname, ename), keys in split.endpoints.items():
            own: dict[Any, dict[str, Any]] = {}
            for key, value in keys.items():
                own.setdefault(self.endpoint_keys[key].cls, {})[key] = value
            settings = dict(base)
            for cls, raw in own.items():
                value, found = structure({**base_raw.get(cls, {}), **raw}, cls, f"resources.{rname}.{ename}")
                problems += found
                if not found:
                    settings[cls] = value
            out[(rname, ename)] = settings
        out[("", "")] = base
        return out, problems

    # -- clients and calls ----------------------------------------------------------------

    def option_defaults(self, cls: type[Any]) -> Any:
        """The all-defaults instance of a config or options class (shared; it is frozen)."""
        value = self._option_defaults.get(cls)
        if value is None:
            value = self._option_defaults[cls] = cls()
        return value

    def known_options(self, **options: Any) -> dict[str, Any]:
        """The given per-call options that some loaded plugin reads (the rest dropped): for a
        plugin asking another, optional one for something, e.g. ``max_retries=0``."""
        return {key: value for key, value in options.items() if key in self.option_keys}

    def structure_config(self, config: Mapping[str, Any]) -> tuple[dict[Any, Any], Problems]:
        """``Client(config=...)`` structured per plugin class; unknown keys are problems."""
        return self._structure_keys(config, self.config_keys, "config")

    def structure_options(self, options: Mapping[str, Any]) -> tuple[dict[Any, Any], Problems]:
        """Per-call plugin options structured per plugin class; unknown keys are problems."""
        return self._structure_keys(options, self.option_keys, "request_options", CORE_OPTIONS)

    def _structure_keys(
        self, given: Mapping[str, Any], table: Mapping[str, Claim], at: str, core: frozenset[str] = frozenset()
    ) -> tuple[dict[Any, Any], Problems]:
        grouped: dict[Any, dict[str, Any]] = {}
        problems: Problems = []
        for key, value in given.items():
            claim = table.get(key)
            if claim is None:
                hint = suggestion(str(key), sorted(set(table) | core))
                problems.append((join(at, key), "unknown key" + (hint or " (no loaded plugin reads it)")))
                continue
            grouped.setdefault(claim.cls, {})[key] = value
        out: dict[Any, Any] = {}
        for cls, raw in grouped.items():
            value, found = structure(raw, cls, at)
            problems += found
            out[cls] = value
        return out, problems
