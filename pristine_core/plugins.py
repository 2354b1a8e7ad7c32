"""Plugin discovery, filtering and deterministic ordering.

Plugins are found through the entry-point group ``pristine.plugins``. An entry point may name a
class (instantiated once per client, so per-client state lives on the instance) or a module or
other object (shared). A plugin declares ``priority`` (int, default :data:`DEFAULT_PRIORITY`);
its canonical name is the entry-point name. Effective order: priority descending, then name.
pluggy calls the last registered implementation first, so we register in the reverse order.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from pristine_core import hookspecs
from pristine_core.bands import DEFAULT_PRIORITY
from pristine_core.config import env_bool, env_list
from pristine_core.contract import PluginSettings
from pristine_core.errors import PluginLoadError
from pristine_core.logs import get_logger

if TYPE_CHECKING:
    from pristine_core.manifest.claims import SettingsSchema

log = get_logger(__name__)

ENTRY_POINT_GROUP = "pristine.plugins"




@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded."""

    name: str
    distribution: str | None
    version: str | None
    error: str


@attrs.frozen
class PluginRecord:
    """A loaded plugin in effective order, as ``pristine plugins`` prints it."""

    name: str
    priority: int
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]
    plugin: Any = attrs.field(repr=False, eq=False)

    def as_dict(self, position: int) -> dict[str, Any]:
        """A JSON-able description."""
        return {
            "position": position,
            "name": self.name,
            "priority": self.priority,
            "distribution": self.distribution,
            "version": self.version,
            "hooks": list(self.hooks),
        }


@attrs.frozen
class PluginSelection:
    """Which plugins may load: allow-list (None = all), deny-list, strictness."""

    allow: frozenset[str] | None = None
    deny: frozenset[str] = frozenset()
    strict: bool = False
    autoload: bool = True

    @classmethod
    def resolve(
        cls,
        plugins: Iterable[Any] | None = None,
        disable_plugins: Iterable[str] | None = None,
        strict: bool | None = None,
        autoload: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> PluginSelection:
        """Combine client arguments with ``PRISTINE_PLUGINS``/``PRISTINE_DISABLE_PLUGINS``/
        ``PRISTINE_STRICT_PLUGINS``; arguments narrow the environment further, never widen it."""
        allow_env = env_list("PRISTINE_PLUGINS", None, environ)
        allow: set[str] | None = set(allow_env) if allow_env is not None else None
        names = [p for p in (plugins or ()) if isinstance(p, str)]
        if plugins is not None and names:
            allow = set(names) if allow is None else allow & set(names)
        deny = set(env_list("PRISTINE_DISABLE_PLUGINS", [], environ) or []) | set(disable_plugins or ())
        strict_flag = env_bool("PRISTINE_STRICT_PLUGINS", False, environ) if strict is None else strict
        return cls(
            allow=frozenset(allow) if allow is not None else None,
            deny=frozenset(deny),
            strict=strict_flag,
            autoload=autoload,
        )

    def permits(self, name: str) -> bool:
        """Whether a plugin called ``name`` may load."""
        if name in self.deny:
            return False
        return self.allow is None or name in self.allow


@attrs.define
class _Candidate:
    name: str
    obj: Any
    distribution: str | None
    version: str | None


_EP_CACHE: dict[tuple[str, ...], list[md.EntryPoint]] = {}


def _entry_points() -> list[md.EntryPoint]:
    """The group's entry points, scanned once per ``sys.path`` (a scan costs milliseconds)."""
    key = tuple(sys.path)
    found = _EP_CACHE.get(key)
    if found is None:
        found = _EP_CACHE[key] = sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    return found


def installed_settings() -> SettingsSchema:
    """The declared settings of every installed plugin, loaded or not (for "which plugin
    would read this key" hints); plugins that fail to load are skipped."""
    from pristine_core.manifest.claims import SettingsSchema  # the strict converter: only when asked

    declared = []
    for ep in _entry_points():
        try:
            instance = instantiate(ep.load())
            answer = instance.pristine_settings() if hasattr(instance, "pristine_settings") else None
        except Exception:
            continue
        if isinstance(answer, PluginSettings):
            declared.append((ep.name, answer))
    try:
        return SettingsSchema(declared)
    except PluginLoadError:
        return SettingsSchema()


_DISTS: dict[tuple[str, str], tuple[str | None, str | None]] = {}


def _dist_of(ep: md.EntryPoint) -> tuple[str | None, str | None]:
    """The distribution name and version of an entry point (metadata parsed once)."""
    key = (ep.name, ep.value)
    found = _DISTS.get(key)
    if found is None:
        found = _DISTS[key] = (ep.dist.name, ep.dist.version) if ep.dist is not None else (None, None)
    return found


def discover(selection: PluginSelection) -> tuple[list[_Candidate], list[PluginFailure]]:
    """Load the permitted entry points; failures are reported (or raised when strict)."""
    found: list[_Candidate] = []
    failures: list[PluginFailure] = []
    if not selection.autoload:
        return found, failures
    seen: set[str] = set()
    for ep in _entry_points():
        if ep.name in seen or not selection.permits(ep.name):
            continue
        seen.add(ep.name)
        dist, version = _dist_of(ep)
        try:
            obj = ep.load()
        except Exception as exc:
            failure = PluginFailure(ep.name, dist, version, f"{type(exc).__name__}: {exc}")
            if selection.strict:
                raise PluginLoadError(
                    f"plugin {ep.name!r} from {dist or 'unknown distribution'} failed to load: {failure.error}"
                ) from exc
            log.warning("pristine.plugin_load_failed", plugin=ep.name, distribution=dist, error=failure.error)
            failures.append(failure)
            continue
        found.append(_Candidate(ep.name, obj, dist, version))
    return found, failures


def plugin_name(obj: Any) -> str:
    """The declared ``name`` of a plugin object, else its class or module name."""
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(obj, "__name__", type(obj).__name__)


def plugin_priority(obj: Any) -> int:
    """The declared integer ``priority`` (default :data:`DEFAULT_PRIORITY`)."""
    priority = getattr(obj, "priority", DEFAULT_PRIORITY)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise PluginLoadError(f"plugin {plugin_name(obj)!r}: priority must be an int, got {priority!r}")
    return priority


def instantiate(obj: Any) -> Any:
    """Classes become one instance per client; anything else is registered as it is."""
    return obj() if inspect.isclass(obj) else obj


class _Manager(pluggy.PluginManager):
    """A plugin manager that parses each plugin class's hook markers (and the hookspecs) once,
    not per client."""

    _opts: dict[tuple[type, str], Any] = {}
    _spec_opts: dict[tuple[Any, str], Any] = {}

    def parse_hookspec_opts(self, module_or_class: Any, name: str) -> Any:
        key = (module_or_class, name)
        try:
            return self._spec_opts[key]
        except KeyError:
            opts = self._spec_opts[key] = super().parse_hookspec_opts(module_or_class, name)
            return opts

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        if inspect.ismodule(plugin):
            return super().parse_hookimpl_opts(plugin, name)
        key = (type(plugin), name)
        try:
            return self._opts[key]
        except KeyError:
            opts = self._opts[key] = super().parse_hookimpl_opts(plugin, name)
            return opts


def new_plugin_manager() -> pluggy.PluginManager:
    """An empty manager with every Pristine hookspec."""
    pm = _Manager(hookspecs.PROJECT)
    for spec in hookspecs.SPEC_CLASSES:
        pm.add_hookspecs(spec)
    return pm


def build_plugin_manager(
    selection: PluginSelection, extra: Sequence[Any] = ()
) -> tuple[pluggy.PluginManager, list[PluginRecord], list[PluginFailure]]:
    """Discover, instantiate and register plugins in deterministic order.

    ``extra`` holds plugin objects passed directly (``Client(plugins=[obj])``); their names come
    from their ``name`` attribute. Returns the manager, the records in effective order (first
    called first) and the load failures.
    """
    candidates, failures = discover(selection)
    for obj in extra:
        if not isinstance(obj, str):
            candidates.append(_Candidate(plugin_name(obj), obj, None, None))
    entries: list[tuple[int, str, Any, _Candidate]] = []
    names: set[str] = set()
    for cand in candidates:
        if cand.name in names:
            raise PluginLoadError(f"two plugins are named {cand.name!r}")
        names.add(cand.name)
        try:
            instance = instantiate(cand.obj)
            priority = plugin_priority(instance)
        except PluginLoadError:
            raise
        except Exception as exc:
            failure = PluginFailure(cand.name, cand.distribution, cand.version, f"{type(exc).__name__}: {exc}")
            if selection.strict:
                raise PluginLoadError(f"plugin {cand.name!r} failed to start: {failure.error}") from exc
            failures.append(failure)
            continue
        entries.append((priority, cand.name, instance, cand))
    effective = sorted(entries, key=lambda e: (-e[0], e[1]))
    pm = new_plugin_manager()
    for _priority, name, instance, _ in reversed(effective):
        pm.register(instance, name=name)
    pm.check_pending()
    records = [
        PluginRecord(
            name=name,
            priority=priority,
            distribution=cand.distribution,
            version=cand.version,
            hooks=tuple(sorted(h.name for h in (pm.get_hookcallers(instance) or []))),
            plugin=instance,
        )
        for priority, name, instance, cand in effective
    ]
    return pm, records, failures
