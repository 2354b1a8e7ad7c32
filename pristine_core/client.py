"""``pristine_core.Client``: an HTTP API client built at run time from a manifest.

A client has exactly three kinds of public attribute: its resources (``client.<resource>``),
``close()`` (with the context-manager protocol) and ``meta``, the namespace of every client
service (manifest, types, state, clock, plugins, config, transport...). The manifest checks
reserve ``meta`` and ``close``, so no resource name can shadow a client service.
"""

from __future__ import annotations

import platform
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

import pluggy

from pristine_core import __version__
from pristine_core.building import blueprint
from pristine_core.config import ProxySettings, env_str
from pristine_core.defaults import ClientDefaults, reroute_default_pool
from pristine_core.endpoint import EndpointMethod
from pristine_core.errors import PristineError, ValidationError
from pristine_core.logs import get_logger
from pristine_core.manifest.claims import CoreConfig
from pristine_core.manifest.models import Manifest
from pristine_core.meta import ClientMeta
from pristine_core.pipeline import Middleware
from pristine_core.plugins import PluginSelection, build_plugin_manager
from pristine_core.runner import Pipeline
from pristine_core.transport import RequestsTransport, Transport
from pristine_runtime.clock import SYSTEM_CLOCK, Clock
from pristine_runtime.secrets import Secret, SecretEnviron, SecretHeaders, redact, register_secret
from pristine_runtime.tenancy import Tenant

log = get_logger(__name__)


class Resource:
    """A group of endpoint methods: ``client.<resource>.<endpoint>(...)``."""

    def __init__(self, name: str, methods: Mapping[str, EndpointMethod]) -> None:
        self._name = name
        self._methods = dict(methods)
        for ename, method in methods.items():
            setattr(self, ename, method)

    def __dir__(self) -> list[str]:
        return sorted(self._methods)

    def __repr__(self) -> str:
        return f"<resource {self._name}: {', '.join(sorted(self._methods))}>"


class Client:
    """A client for the API a manifest describes.

    ``manifest`` is a path, a dict, a ``(package, resource)`` tuple or a loaded
    :class:`~pristine_core.manifest.models.Manifest`. ``plugins`` may hold plugin names (an
    allow-list over installed plugins) and plugin objects (registered in addition);
    ``disable_plugins`` is a deny-list. ``config`` carries the keys plugins declared (unknown
    keys are a :class:`~pristine_core.errors.ValidationError` naming ``config.<key>``).
    ``transport`` replaces the default :class:`~pristine_core.transport.RequestsTransport` (the
    default one runs its deadline guards on ``meta.watchdog``; one passed here keeps the watchdog
    it was given, or starts its own). Use as a context manager, or call :meth:`close`.
    """

    meta: ClientMeta

    def __init__(
        self,
        manifest: Any,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        plugins: Iterable[Any] | None = None,
        disable_plugins: Iterable[str] | None = None,
        strict_plugins: bool | None = None,
        autoload_plugins: bool = True,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
        clock: Clock | None = None,
        config: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        verify: bool | str = True,
        transport: Transport | None = None,
    ) -> None:
        plugin_list = list(plugins) if plugins is not None else None
        selection = PluginSelection.resolve(plugin_list, disable_plugins, strict_plugins, autoload_plugins, environ)
        extra = [p for p in (plugin_list or []) if not isinstance(p, str)]
        pm, records, failures = build_plugin_manager(selection, extra)
        built = blueprint(manifest, pm)
        loaded = built.manifest
        # Pool names (routing is the core's; their limits belong to the pool plugin, loaded or not).
        pools = frozenset(loaded.section("pools") or loaded.data.get("pools") or {})
        env = pm.hook.pristine_client_defaults(manifest=loaded, environ=environ) or ClientDefaults()
        if env.default_pool:
            if pools and env.default_pool not in pools:
                raise ValidationError([("default_pool", f"unknown pool {env.default_pool!r}")], "client defaults")
            loaded = reroute_default_pool(loaded, env.default_pool)
        # Default values sit under explicit ones; those for plugins not loaded are dropped.
        merged = env.merged_config(dict(config or {}), known=built.schema.config_keys)
        config_settings, problems = built.schema.structure_config(merged)
        if problems:
            raise ValidationError(problems, "client config")
        url = _base_url(loaded, base_url, environ)
        key = _api_key(loaded, api_key, environ)
        headers = {
            "Accept": "application/json",
            "User-Agent": f"pristine/{__version__} python/{platform.python_version()}",
            **loaded.defaults.headers,
            **env.headers,
            **dict(default_headers or {}),
        }
        secret_headers = dict(env.secret_headers)
        if loaded.auth is not None and key is not None:
            value = key.reveal()
            scheme = loaded.auth.scheme
            secret_headers[loaded.auth.header] = Secret(f"{scheme} {value}" if scheme else value)
        if transport is None:
            transport = RequestsTransport(
                proxies=env.requests_proxies() or ProxySettings.from_env(environ).as_requests_proxies(),
                verify=verify,
                proxy_headers=env.proxy_headers,
                host_pools=env.host_pools,
                default_connections=env.pool_connections,
                watchdog=lambda: self.meta.watchdog,  # one real-time timer per client, asked on first use
            )
        pipeline = Pipeline(
            pm=pm,
            base_url=url,
            timeout_s=timeout_s or env.timeout_s or loaded.defaults.timeout_s,
            call_timeout_s=timeout_s or None,
            clock=clock or SYSTEM_CLOCK,
            default_query={**loaded.defaults.query, **env.query, **dict(default_query or {})},
            headers=headers,
            auth_headers=SecretHeaders(headers, secret_headers),
            transport=transport,
            event_fields=config_settings.get(CoreConfig, CoreConfig()).event_metadata or {},
        )
        meta = ClientMeta(
            plugin_manager=pm,
            records=records,
            plugin_failures=failures,
            manifest=loaded,
            schema=built.schema,
            types=built.types,
            config=merged,
            config_settings=config_settings,
            defaults=env,
            environ=_held_environ(loaded, env, environ),
            clock=clock or SYSTEM_CLOCK,
            api_key=key,
            tenant=Tenant.of(url, key.reveal() if key else None),
            pipeline=pipeline,
        )
        self.meta = meta
        for rname, group in loaded.resources.items():
            methods = {ename: EndpointMethod(self, ep) for ename, ep in group.items()}
            meta._methods.update({ep.qualified_name: methods[ep.name] for ep in group.values()})
            setattr(self, rname, Resource(rname, methods))
        pm.hook.pristine_configure(client=self)
        pipeline.narrow_events(pm)
        pipeline.use_middleware(self._middleware(pm))
        try:
            pm.hook.pristine_client_started(client=self)
        except BaseException:
            self.close()
            raise

    def _middleware(self, pm: pluggy.PluginManager) -> list[tuple[Middleware, str | None]]:
        """Every plugin's dispatch middleware, each with the name of the plugin it came from."""
        owned: list[tuple[Middleware, str | None]] = []
        impls = pm.hook.pristine_dispatch_middleware.get_hookimpls()
        if any(impl.hookwrapper or impl.wrapper for impl in impls):  # pluggy's dispatch; no owners
            answers = pm.hook.pristine_dispatch_middleware(client=self)
            results: list[tuple[str | None, Any]] = [(None, r) for r in answers]
        else:  # each plugin on its own, in pluggy's order
            results = [(i.plugin_name, i.function(*[self for _ in i.argnames])) for i in reversed(impls)]
        for owner, result in results:
            if result is not None:
                owned.extend((step, owner) for step in (result if isinstance(result, list) else [result]))
        return owned

    def close(self) -> None:
        """Stop plugins (``pristine_client_closing``), then close the transport. Idempotent."""
        meta = self.__dict__.get("meta")
        if meta is None or not meta.begin_closing():  # closed already, or closing in another thread
            return
        for impl in reversed(meta.hook.pristine_client_closing.get_hookimpls()):
            try:
                impl.function(client=self)
            except Exception as exc:
                log.warning("pristine.close_hook_failed", plugin=impl.plugin_name, error=f"{type(exc).__name__}: {exc}")
        meta.close_scheduler()
        meta.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Resource:
        # Only reached when normal lookup fails: resources are instance attributes.
        raise AttributeError(f"{type(self).__name__} has no resource {name!r} (client services are under .meta)")

    def __repr__(self) -> str:
        meta = self.__dict__.get("meta")
        if meta is None:
            return "<pristine Client (not built)>"
        return f"<pristine Client {meta.manifest.name} {redact(meta.base_url)}>"


def _held_environ(manifest: Manifest, env: ClientDefaults, environ: Mapping[str, str] | None) -> SecretEnviron | None:
    """The ``environ`` a client keeps: secrets (what plugins read as secrets, the API-key
    variable, secret-looking variables) wrapped so that they never print."""
    if environ is None:
        return None
    names = set(env.secret_names)
    if manifest.auth is not None and manifest.auth.env:
        names.add(manifest.auth.env)
    return SecretEnviron(environ, frozenset(names))


def _base_url(manifest: Manifest, base_url: str | None, environ: Mapping[str, str] | None) -> str:
    env_name = manifest.base_url_env
    url = base_url or (env_str(env_name, None, environ) if env_name else None) or manifest.base_url
    if not url:
        hint = f" or set {env_name}" if env_name else ""
        raise PristineError(f"no base URL: pass base_url={hint}")
    if not url.lower().startswith(("http://", "https://")):
        shown = url.rpartition("@")[2]  # without any user:password@, which is not yet held as a secret
        raise ValidationError(
            [("base_url", f"must start with http:// or https:// (got {shown!r}; did you mean 'http://{shown}'?)")]
        )
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - parsing it raises for a port that is not a number
    except ValueError as exc:  # the message names the problem, never the URL's password
        raise ValidationError([("base_url", f"not a valid URL: {exc}")]) from None
    register_secret(parts.password)  # user:password@ in the URL: redacted wherever text is shown
    return url.rstrip("/")


def _api_key(manifest: Manifest, api_key: str | None, environ: Mapping[str, str] | None) -> Secret | None:
    auth = manifest.auth
    if auth is None:
        return Secret(api_key) if api_key else None
    key = api_key or (env_str(auth.env, None, environ) if auth.env else None)
    if key is None:
        return None
    if auth.key_prefixes and not key.startswith(tuple(auth.key_prefixes)):
        raise PristineError(f"the API key must start with {' or '.join(repr(p) for p in auth.key_prefixes)}")
    return Secret(key)
