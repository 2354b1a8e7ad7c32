"""Client defaults that come from outside the code: :class:`ClientDefaults`.

A plugin (``pristine-environment`` reads them from environment variables) returns one from the
``pristine_client_defaults`` hook; the client applies it under its explicit arguments: explicit
``Client(...)`` arguments and ``config`` entries win over these values, which win over the
manifest's defaults. Secret values are :class:`~pristine_runtime.secrets.Secret` objects, so a
repr, a log line or a traceback's locals never show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pristine_runtime.secrets import Secret


@attrs.frozen
class ClientDefaults:
    """What a client takes from its surroundings; empty/None fields mean "not set".

    ``headers``/``secret_headers`` go on every request (secret ones only to the API's own
    requests, like the API key); ``query`` is added to every call; ``proxy`` (a URL without
    credentials) and ``proxy_headers`` configure the default transport, as do ``pool_connections``
    (connections of every pool, ``config.pools`` winning) and ``host_pools`` (connection pools per
    session); ``default_pool`` replaces the manifest's default pool; ``timeout_s`` the manifest's
    default timeout; ``config`` sits under ``Client(config=...)``; ``secret_names`` are the
    environment variables read as secrets (``client.meta.environ`` never shows their values).
    """

    headers: Mapping[str, str] = attrs.Factory(dict)
    secret_headers: Mapping[str, Secret] = attrs.Factory(dict)
    query: Mapping[str, str] = attrs.Factory(dict)
    proxy: str | None = attrs.field(default=None, repr=False)
    proxy_headers: Mapping[str, Secret] = attrs.Factory(dict)
    timeout_s: float | None = None
    pool_connections: int | None = None
    host_pools: int | None = None
    default_pool: str | None = None
    config: Mapping[str, Any] = attrs.Factory(dict)
    secret_names: frozenset[str] = frozenset()

    def merged_config(self, explicit: Mapping[str, Any], known: Any = None) -> dict[str, Any]:
        """The client ``config``: these values under ``explicit`` ones (merged deeply).

        With ``known`` (the config keys loaded plugins declare), values for keys no loaded plugin
        reads are dropped; explicit ones are kept (and checked by the caller).
        """
        base = self.config if known is None else {k: v for k, v in self.config.items() if k in known}
        return deep_merge(base, explicit)

    def requests_proxies(self) -> dict[str, str]:
        """``requests``' proxy mapping for :attr:`proxy` (empty when unset)."""
        return {"http": self.proxy, "https": self.proxy} if self.proxy else {}


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``top``; nested mappings are merged, not replaced."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def reroute_default_pool(manifest: Any, pool: str) -> Any:
    """A copy of ``manifest`` whose default pool is ``pool``: endpoints that used the old default
    (or none) move to it; endpoints that name another pool keep theirs."""
    old = manifest.defaults.pool
    resources = {
        rname: {
            ename: attrs.evolve(ep, pool=pool) if ep.pool in (None, old) else ep for ename, ep in group.items()
        }
        for rname, group in manifest.resources.items()
    }
    return attrs.evolve(manifest, defaults=attrs.evolve(manifest.defaults, pool=pool), resources=resources)
