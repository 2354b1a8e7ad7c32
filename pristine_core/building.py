"""Building what a client needs from a manifest, cached per manifest and plugin set.

A :class:`Blueprint` is the immutable part of a client: the loaded manifest (structured with the
plugins' declared settings and checked by their validators) and the type registry. It depends
only on the manifest source and the plugin set, so a second client for the same manifest reuses
it instead of reloading the file and rebuilding ~100 classes.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

import attrs
import pluggy

from pristine_core.manifest.claims import SettingsSchema
from pristine_core.manifest.loader import load_manifest
from pristine_core.manifest.models import Manifest
from pristine_core.typesystem import TypeRegistry

_CACHE_SIZE = 32
_cache: OrderedDict[Any, Blueprint] = OrderedDict()
_lock = threading.Lock()


@attrs.frozen
class Blueprint:
    """The immutable, shareable part of a client."""

    manifest: Manifest
    schema: SettingsSchema
    types: TypeRegistry
    source: Any = attrs.field(default=None, eq=False, repr=False)


def _source_key(source: Any) -> Any:
    """A cache key for a manifest source, or None when it cannot be cached safely."""
    if isinstance(source, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(source))
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return ("path", path, stat.st_mtime_ns, stat.st_size)
    if isinstance(source, tuple) and len(source) == 2 and all(isinstance(p, str) for p in source):
        return ("resource", source)
    if isinstance(source, Manifest):
        return ("manifest", id(source))
    return None


def blueprint(source: Any, pm: pluggy.PluginManager) -> Blueprint:
    """The blueprint of ``source`` for the plugin set of ``pm`` (cached when the source allows)."""
    schema = SettingsSchema.from_hooks(pm)
    plugin_set = tuple((name, type(plugin)) for name, plugin in pm.list_name_plugin())
    key = _source_key(source)
    cache_key = (key, schema.key, plugin_set) if key is not None else None
    if cache_key is not None:
        with _lock:
            found = _cache.get(cache_key)
            if found is not None and (key[0] != "manifest" or found.source is source):
                _cache.move_to_end(cache_key)
                return found
    manifest = load_manifest(source, schema=schema, validators=[lambda m: _plugin_problems(pm, m)])
    overrides: dict[str, type] = {}
    for result in reversed(pm.hook.pristine_type_classes(manifest=manifest)):
        overrides.update(result or {})
    kept = source if isinstance(source, Manifest) else None
    built = Blueprint(manifest, schema, TypeRegistry(manifest.types, overrides), kept)
    if cache_key is not None:
        with _lock:
            _cache[cache_key] = built
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return built


def _plugin_problems(pm: pluggy.PluginManager, manifest: Manifest) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for result in pm.hook.pristine_validate_manifest(manifest=manifest):
        problems.extend(result or [])
    return problems
