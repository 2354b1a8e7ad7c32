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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import pluggy

from pristine_core import hookspecs
from pristine_core.bands import DEFAULT_PRIORITY
from pristine_core.config import env_bool, env_list
from pristine_core.errors import PluginLoadError
from pristine_core.logs import get_logger

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
        """A JSON-able description (hooks as a list; the plugin object left out)."""
        return {"position": position, **attrs.asdict(self, filter=lambda field, _: field.name != "plugin")}


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
        allow = env_list("PRISTINE_PLUGINS", None, environ)
        names = [p for p in (plugins or ()) if isinstance(p, str)]
        if names:
            allow = names if allow is None else [name for name in allow if name in names]
        deny = [*(env_list("PRISTINE_DISABLE_PLUGINS", [], environ) or []), *(disable_plugins or ())]
        return cls(
            allow=None if allow is None else frozenset(allow),
            deny=frozenset(deny),
            strict=env_bool("PRISTINE_STRICT_PLUGINS", False, environ) if strict is None else strict,
            autoload=autoload,
        )

    def permits(self, name: str) -> bool:
        """Whether a plugin called ``name`` may load."""
        return name not in self.deny and (self.allow is None or name in self.allow)


@attrs.frozen
class _Candidate:
    name: str
    load: Callable[[], Any]
    distribution: str | None = None
    version: str | None = None


_INSTALLED: dict[tuple[str, ...], list[_Candidate]] = {}


def _installed() -> list[_Candidate]:
    """The group's entry points (one per name) with their distributions, scanned and their
    metadata parsed once per ``sys.path`` (a scan costs milliseconds)."""
    key = tuple(sys.path)
    found = _INSTALLED.get(key)
    if found is None:
        by_name: dict[str, _Candidate] = {}
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
            dist = (ep.dist.name, ep.dist.version) if ep.dist is not None else (None, None)
            by_name.setdefault(ep.name, _Candidate(ep.name, ep.load, *dist))
        found = _INSTALLED[key] = list(by_name.values())
    return found


def _candidates(selection: PluginSelection, extra: Sequence[Any]) -> list[_Candidate]:
    """The permitted entry points (not loaded yet), then the plugin objects passed directly."""
    found = [cand for cand in _installed() if selection.permits(cand.name)] if selection.autoload else []
    direct = [_Candidate(plugin_name(obj), lambda obj=obj: obj) for obj in extra if not isinstance(obj, str)]  # type: ignore[misc]
    return found + direct


def plugin_name(obj: Any) -> str:
    """The declared ``name`` of a plugin object, else its class or module name."""
    name = getattr(obj, "name", None)
    if isinstance(name, str) and name:
        return name
    return getattr(obj, "__name__", type(obj).__name__)


class _Manager(pluggy.PluginManager):
    """A plugin manager that parses each plugin class's hook markers (and the hookspecs) once,
    not per client."""

    _opts: dict[tuple[type, str], Any] = {}
    _spec_opts: dict[tuple[Any, str], Any] = {}

    def parse_hookspec_opts(self, module_or_class: Any, name: str) -> Any:
        key = (module_or_class, name)
        if key not in self._spec_opts:
            self._spec_opts[key] = super().parse_hookspec_opts(module_or_class, name)
        return self._spec_opts[key]

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        if inspect.ismodule(plugin):
            return super().parse_hookimpl_opts(plugin, name)
        key = (type(plugin), name)
        if key not in self._opts:
            self._opts[key] = super().parse_hookimpl_opts(plugin, name)
        return self._opts[key]


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
    failures: list[PluginFailure] = []
    entries: list[tuple[int, str, Any, _Candidate]] = []
    names: set[str] = set()
    for cand in _candidates(selection, extra):
        if cand.name in names:
            raise PluginLoadError(f"two plugins are named {cand.name!r}")
        try:
            instance = cand.load()
            if inspect.isclass(instance):  # one instance per client; anything else is shared
                instance = instance()
            priority = getattr(instance, "priority", DEFAULT_PRIORITY)
        except PluginLoadError:
            raise
        except Exception as exc:
            failure = PluginFailure(cand.name, cand.distribution, cand.version, f"{type(exc).__name__}: {exc}")
            where = cand.distribution or "unknown distribution"
            if selection.strict:
                raise PluginLoadError(f"plugin {cand.name!r} from {where} failed to load: {failure.error}") from exc
            log.warning(
                "pristine.plugin_load_failed", plugin=cand.name, distribution=cand.distribution, error=failure.error
            )
            failures.append(failure)
            continue
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise PluginLoadError(f"plugin {cand.name!r}: priority must be an int, got {priority!r}")
        names.add(cand.name)
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
