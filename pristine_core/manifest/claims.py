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
from pristine_core.pipeline import CORE_OPTIONS

_LOADER_OWNED = frozenset({"sections", "unclaimed", "data", "schema_key"})
CORE_TOP = frozenset(a.name for a in attrs.fields(models.Manifest)) - _LOADER_OWNED | {"$schema"}
#: Endpoint fields the loader fills in (a manifest that sets them is told to remove them).
ENDPOINT_SET_BY_LOADER = ("name", "resource", "settings")
CORE_ENDPOINT = frozenset(a.name for a in attrs.fields(models.Endpoint)) - set(ENDPOINT_SET_BY_LOADER)
CORE_DEFAULTS = frozenset(a.name for a in attrs.fields(models.Defaults))

#: Per-endpoint plugin settings: the structured values by class, and their raw keys by class.
_Settings = tuple[dict[type, Any], dict[type, Any]]


@attrs.frozen
class Claim:
    """A key (or section path) and the plugin class that reads it."""

    plugin: str
    cls: Any


@attrs.define
class Split:
    """Raw manifest data divided: the core's part (each endpoint with its loader-set fields and
    its plugin settings filled in), the claimed sections structured, problems, unclaimed paths."""

    core: dict[str, Any] = attrs.Factory(dict)
    sections: dict[str, Any] = attrs.Factory(dict)
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


class SettingsSchema:
    """The merged declarations of one plugin set (see :mod:`pristine_core.contract`), the core's
    own (:class:`CoreConfig` and :class:`CoreOptions`, as plugin ``"pristine"``) first."""

    def __init__(self, declared: Sequence[tuple[str, PluginSettings]] = ()) -> None:
        self.sections: dict[str, Claim] = {}
        self.endpoint_keys: dict[str, Claim] = {}
        self.config_keys: dict[str, Claim] = {}
        self.option_keys: dict[str, Claim] = {}
        key: list[Any] = []
        for plugin, decl in [("pristine", PluginSettings(config=CoreConfig, options=CoreOptions)), *declared]:
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
        """Divide raw manifest data between the core and the plugins, structuring the plugins'
        parts (endpoint keys with the ``defaults`` applied) and normalising methods to upper case."""
        out = Split()
        for key, value in data.items():
            if key == "features":
                if not isinstance(value, Mapping):
                    out.problems.append(("features", "expected an object"))
                    continue
                claimed = [p.partition(".")[2] for p in self.sections if p.startswith("features.")]
                for name, block in value.items():
                    self._section(f"features.{name}", name, block, claimed, out)
            elif key in CORE_TOP:
                if key != "$schema":  # editors' pointer to manifest.schema.json
                    out.core[key] = value
            else:
                self._section(key, key, value, sorted(CORE_TOP | {p for p in self.sections if "." not in p}), out)
        base: _Settings = ({}, {})
        defaults = data.get("defaults")
        if isinstance(defaults, Mapping):
            out.core["defaults"], plugin_keys = self._split_keys("defaults", defaults, CORE_DEFAULTS, out)
            base = self._endpoint_settings("defaults", plugin_keys, base, out)
        resources = data.get("resources")
        if isinstance(resources, Mapping):
            out.core["resources"] = {}
            for rname, group in resources.items():
                if isinstance(group, Mapping):
                    group = {ename: self._endpoint(rname, ename, ep, base, out) for ename, ep in group.items()}
                out.core["resources"][rname] = group
        return out

    def _section(self, path: str, key: str, value: Any, known: Iterable[str], out: Split) -> None:
        if path in self.sections:
            structured, found = structure(value, self.sections[path].cls, path)
            out.problems += found
            if not found:
                out.sections[path] = structured
        else:
            self._unknown(path, key, known, out)

    @staticmethod
    def _unknown(path: str, key: str, known: Iterable[str], out: Split) -> None:
        """A key nobody reads: a problem when close to a known one (a typo), else unclaimed."""
        hint = suggestion(key, known)
        if hint:
            out.problems.append((path, "unknown key" + hint))
        else:
            out.unclaimed.append(path)

    def _endpoint(self, rname: str, ename: str, raw: Any, base: _Settings, out: Split) -> Any:
        if not isinstance(raw, Mapping):
            return raw
        at = f"resources.{rname}.{ename}"
        for owned in ENDPOINT_SET_BY_LOADER:
            if owned in raw:
                out.problems.append((f"{at}.{owned}", "set by the loader; remove it"))
        given = {key: value for key, value in raw.items() if key not in ENDPOINT_SET_BY_LOADER}
        core, plugin_keys = self._split_keys(at, given, CORE_ENDPOINT, out)
        if isinstance(core.get("method"), str):
            core["method"] = core["method"].upper()
        settings, _ = self._endpoint_settings(at, plugin_keys, base, out)
        return {**core, "name": ename, "resource": rname, "settings": settings}

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
                self._unknown(join(at, key), key, sorted(core | set(self.endpoint_keys)), out)
        return core_part, plugin_part

    def _endpoint_settings(self, at: str, keys: Mapping[str, Any], base: _Settings, out: Split) -> _Settings:
        """Per-endpoint plugin settings by class, ``keys`` over ``base`` (the defaults'), and the
        raw values of the classes that structured."""
        settings = dict(base[0])
        raws: dict[type, Any] = {}
        for cls, raw in _by_class(keys, self.endpoint_keys).items():
            raw = {**base[1].get(cls, {}), **raw}
            value, found = structure(raw, cls, at)
            out.problems += found
            if not found:
                settings[cls], raws[cls] = value, raw
        return settings, raws

    # -- clients and calls ----------------------------------------------------------------

    #: The all-defaults instance of a config or options class (shared; it is frozen).
    option_defaults = staticmethod(models.default_of)

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
        problems: Problems = []
        for key in given:
            if key not in table:
                hint = suggestion(str(key), sorted(set(table) | core))
                problems.append((join(at, key), "unknown key" + (hint or " (no loaded plugin reads it)")))
        out: dict[Any, Any] = {}
        for cls, raw in _by_class(given, table).items():
            value, found = structure(raw, cls, at)
            problems += found
            out[cls] = value
        return out, problems


def _by_class(given: Mapping[str, Any], table: Mapping[str, Claim]) -> dict[Any, dict[str, Any]]:
    """The claimed keys of ``given`` grouped by the class that reads them (others left out)."""
    grouped: dict[Any, dict[str, Any]] = {}
    for key, value in given.items():
        if key in table:
            grouped.setdefault(table[key].cls, {})[key] = value
    return grouped
