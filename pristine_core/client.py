"""``pristine_core.Client``: an HTTP API client built at run time from a manifest."""

from __future__ import annotations

import platform
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import pluggy

from pristine_core import __version__, environment
from pristine_core.clock import SYSTEM_CLOCK, Clock
from pristine_core.config import ProxySettings, env_str
from pristine_core.endpoint import EndpointMethod
from pristine_core.errors import PristineError, ValidationError
from pristine_core.logs import get_logger
from pristine_core.manifest.loader import load_manifest
from pristine_core.manifest.models import Endpoint, Manifest, PoolSpec
from pristine_core.pipeline import Call, Event, Middleware, Request, Response, compose
from pristine_core.plugins import PluginRecord, PluginSelection, build_plugin_manager
from pristine_core.scheduler import Scheduler
from pristine_core.secrets import Secret, SecretHeaders
from pristine_core.tenancy import Tenant
from pristine_core.transport import Transport, deadline_exceeded
from pristine_core.typesystem import TypeRegistry

log = get_logger(__name__)


@attrs.frozen
class _HookPresence:
    """Which optional hooks have implementations, so the hot path can skip empty ones."""

    prepare_call: bool
    encode_body: bool
    prepare_attempt: bool
    process_response: bool
    on_event: bool
    estimate_bytes: bool

    @classmethod
    def of(cls, pm: pluggy.PluginManager) -> _HookPresence:
        def has(name: str) -> bool:
            return bool(getattr(pm.hook, name).get_hookimpls())

        return cls(
            prepare_call=has("pristine_prepare_call"),
            encode_body=has("pristine_encode_body"),
            prepare_attempt=has("pristine_prepare_attempt"),
            process_response=has("pristine_process_response"),
            on_event=has("pristine_on_event"),
            estimate_bytes=has("pristine_estimate_bytes"),
        )


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
    ``disable_plugins`` is a deny-list. ``config`` carries options for plugins and domain code
    (read with :meth:`option`). Use as a context manager, or call :meth:`close`.
    """

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
    ) -> None:
        self._closed = True
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.config: dict[str, Any] = dict(config or {})
        self.state: dict[str, Any] = {}
        self._scheduler: Scheduler | None = None
        self._scheduler_lock = threading.Lock()
        plugin_list = list(plugins) if plugins is not None else None
        selection = PluginSelection.resolve(plugin_list, disable_plugins, strict_plugins, autoload_plugins, environ)
        extra = [p for p in (plugin_list or []) if not isinstance(p, str)]
        self._pm, self._plugin_records, self.plugin_failures = build_plugin_manager(selection, extra)
        self.hook = self._pm.hook
        self.manifest: Manifest = load_manifest(
            manifest, validators=[self._plugin_problems, environment.manifest_problems]
        )
        self.environ = environ
        env = self.environment = environment.resolve(
            self.manifest.feature(environment.FEATURE), environ, frozenset(self.manifest.pools)
        )
        if env.default_pool:
            self.manifest = environment.reroute_default_pool(self.manifest, env.default_pool)
        self.config = env.merged_config(self.config)
        environment.apply_log_levels(env.log_levels)
        self.types = TypeRegistry(self.manifest.types, self._type_overrides())
        self.base_url = self._resolve_base_url(base_url, environ)
        self._api_key = self._resolve_api_key(api_key, environ)
        self.tenant = Tenant.of(self.base_url, self._api_key.reveal() if self._api_key else None)
        self.timeout_s = timeout_s or env.timeout_s or self.manifest.defaults.timeout_s
        #: The client's explicit ``timeout_s`` (None when not given): it bounds each whole call.
        self.call_timeout_s: float | None = timeout_s or None
        self._default_query = {**self.manifest.defaults.query, **env.query, **dict(default_query or {})}
        self._anonymous_headers = {
            "Accept": "application/json",
            "User-Agent": f"pristine/{__version__} python/{platform.python_version()}",
            **self.manifest.defaults.headers,
            **env.headers,
            **dict(default_headers or {}),
        }
        auth = self.manifest.auth
        secret_headers: dict[str, Secret] = {name: Secret(value) for name, value in env.secret_headers.items()}
        if auth is not None and self._api_key is not None:
            value = self._api_key.reveal()
            secret_headers[auth.header] = Secret(f"{auth.scheme} {value}" if auth.scheme else value)
        #: Headers of authenticated requests; the key stays a Secret until a request is built.
        self._base_headers = SecretHeaders(self._anonymous_headers, secret_headers)
        self.transport = Transport(
            self._pool_specs(),
            proxies=env.requests_proxies() or ProxySettings.from_env(environ).as_requests_proxies(),
            verify=verify,
            proxy_headers=env.proxy_headers,
            host_pools=env.host_pools,
        )
        self._hooks = _HookPresence.of(self._pm)
        self._event_impls = list(reversed(self.hook.pristine_on_event.get_hookimpls()))
        self._resources: dict[str, Resource] = {}
        self._methods: dict[str, EndpointMethod] = {}
        for rname, group in self.manifest.resources.items():
            methods = {ename: EndpointMethod(self, ep) for ename, ep in group.items()}
            self._methods.update({ep.qualified_name: methods[ep.name] for ep in group.values()})
            self._resources[rname] = Resource(rname, methods)
        self._closed = False
        self.hook.pristine_configure(client=self)
        self.middleware: list[Middleware] = self._collect_middleware()
        self._dispatch = compose(self.middleware, self._send)
        try:
            self.hook.pristine_client_started(client=self)
        except BaseException:
            self.close()
            raise

    # -- construction helpers -------------------------------------------------------------

    def _plugin_problems(self, manifest: Manifest) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        for result in self._pm.hook.pristine_validate_manifest(manifest=manifest):
            problems.extend(result or [])
        return problems

    def _type_overrides(self) -> dict[str, type]:
        merged: dict[str, type] = {}
        for result in reversed(self._pm.hook.pristine_type_classes(manifest=self.manifest)):
            merged.update(result or {})
        return merged

    def _resolve_base_url(self, base_url: str | None, environ: Mapping[str, str] | None) -> str:
        env_name = self.manifest.base_url_env
        url = base_url or (env_str(env_name, None, environ) if env_name else None) or self.manifest.base_url
        if not url:
            hint = f" or set {env_name}" if env_name else ""
            raise PristineError(f"no base URL: pass base_url={hint}")
        if not url.lower().startswith(("http://", "https://")):
            raise ValidationError(
                [("base_url", f"must start with http:// or https:// (got {url!r}; did you mean 'http://{url}'?)")]
            )
        return url.rstrip("/")

    def _resolve_api_key(self, api_key: str | None, environ: Mapping[str, str] | None) -> Secret | None:
        auth = self.manifest.auth
        if auth is None:
            return Secret(api_key) if api_key else None
        key = api_key or (env_str(auth.env, None, environ) if auth.env else None)
        if key is None:
            return None
        if auth.key_prefixes and not key.startswith(tuple(auth.key_prefixes)):
            raise PristineError(f"the API key must start with {' or '.join(repr(p) for p in auth.key_prefixes)}")
        return Secret(key)

    def _pool_specs(self) -> dict[str, PoolSpec]:
        """Manifest pools with ``config={"pools": {name: {"connections": n}}}`` applied."""
        specs = dict(self.manifest.pools)
        if self.environment.pool_connections is not None:
            specs = {n: attrs.evolve(s, connections=self.environment.pool_connections) for n, s in specs.items()}
        for name, override in (self.config.get("pools") or {}).items():
            if isinstance(override, Mapping) and "connections" in override:
                base = specs.get(name, PoolSpec())
                specs[name] = attrs.evolve(base, connections=int(override["connections"]))
        return specs

    def _collect_middleware(self) -> list[Middleware]:
        collected: list[Middleware] = []
        for result in self.hook.pristine_dispatch_middleware(client=self):
            if result is None:
                continue
            collected.extend(result if isinstance(result, list) else [result])
        return sorted(collected, key=lambda m: (-m.priority, m.name))

    # -- public API -----------------------------------------------------------------------

    def __getattr__(self, name: str) -> Resource:
        resources = self.__dict__.get("_resources")
        if resources is not None and name in resources:
            return resources[name]  # type: ignore[no-any-return]
        raise AttributeError(f"{type(self).__name__!s} has no resource or attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_resources", {})))

    @property
    def api_key(self) -> Secret | None:
        """The API key, wrapped so that it never prints."""
        return self._api_key

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The frozen plugin manager of this client (do not register more plugins on it)."""
        return self._pm

    def plugins(self) -> list[PluginRecord]:
        """Loaded plugins in effective order (first called first)."""
        return list(self._plugin_records)

    def plugin(self, name: str) -> Any:
        """The instance of plugin ``name`` registered for this client (None when absent)."""
        return self._pm.get_plugin(name)

    def endpoint(self, qualified_name: str) -> EndpointMethod:
        """The endpoint method for ``resource.endpoint`` (``KeyError`` when unknown)."""
        return self._methods[qualified_name]

    def fetch_url(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        stream: bool = True,
        timeout_s: float | None = None,
        pool: str = "default",
        send_api_key: bool = False,
    ) -> Response:
        """Fetch a URL outside the manifest (e.g. a presigned download link) in one attempt.

        The response is returned whatever its status and, with ``stream=True``, is read lazily
        (``iter_bytes``). The API key is sent only when ``send_api_key`` is true.
        """
        base = self._base_headers.reveal() if send_api_key else self._anonymous_headers
        request = Request(
            method=method,
            url=url,
            headers={**base, **dict(headers or {})},
            body=None,
            timeout_s=timeout_s or self.timeout_s,
            pool=pool,
            stream=stream,
        )
        return self.transport.send(request)

    def option(self, key: str, default: Any = None) -> Any:
        """A value from the ``config`` mapping given to the constructor."""
        return self.config.get(key, default)

    def emit(self, name: str, **fields: Any) -> None:
        """Broadcast an :class:`~pristine_core.pipeline.Event` to ``pristine_on_event`` hooks."""
        if not self._hooks.on_event:
            return
        event = Event(name, fields)
        # Called one by one so that a failing observer neither breaks the call nor starves the rest.
        for impl in self._event_impls:
            try:
                impl.function(event=event)
            except Exception as exc:
                log.warning(
                    "pristine.event_hook_failed",
                    event_name=name,
                    plugin=impl.plugin_name,
                    error=f"{type(exc).__name__}: {exc}",
                )

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    @property
    def scheduler(self) -> Scheduler:
        """This client's :class:`~pristine_core.scheduler.Scheduler` (started lazily, closed with the client)."""
        with self._scheduler_lock:
            if self._scheduler is None:
                self._scheduler = Scheduler(self.clock, max_workers=8, name=f"pristine-{self.manifest.name}")
            return self._scheduler

    def close(self) -> None:
        """Stop plugins (``pristine_client_closing``), then close the transport. Idempotent."""
        if self.__dict__.get("_closed", True):
            return
        self._closed = True
        for impl in reversed(self._pm.hook.pristine_client_closing.get_hookimpls()):
            try:
                impl.function(client=self)
            except Exception as exc:
                log.warning("pristine.close_hook_failed", plugin=impl.plugin_name, error=f"{type(exc).__name__}: {exc}")
        with self._scheduler_lock:
            scheduler = self._scheduler
        if scheduler is not None:
            scheduler.close()
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<pristine Client {self.manifest.name} {self.base_url}>"

    # -- the pipeline ---------------------------------------------------------------------

    def _execute(self, call: Call, request: Request) -> Response:
        endpoint: Endpoint = call.endpoint
        # Every request event names its pool and carries config["event_metadata"] (e.g. user metadata).
        extra = {"pool": request.pool, **(self.config.get("event_metadata") or {})} if self._hooks.on_event else {}
        if self._hooks.on_event:
            self.emit("request.start", endpoint=endpoint.qualified_name, method=request.method, **extra)
        try:
            response = self._dispatch(request)
        except PristineError as exc:
            self.emit(
                "request.error", endpoint=endpoint.qualified_name, error=type(exc).__name__, exception=exc, **extra
            )
            raise
        if self._hooks.on_event:
            self.emit(
                "request.end",
                **extra,
                endpoint=endpoint.qualified_name,
                status=response.status_code,
                attempts=response.attempts,
                elapsed_s=response.elapsed_s,
            )
        return response

    def _send(self, request: Request) -> Response:
        if self._hooks.prepare_attempt:
            self.hook.pristine_prepare_attempt(request=request)
        if self.environment.dump_headers:
            environment.dump_request(request.method, request.url, request.safe_headers(), request.attempt)
        budget = None
        if request.deadline is not None:
            budget = request.deadline - self.clock.monotonic()
            if budget <= 0:
                raise deadline_exceeded(request)
        response = self.transport.send(request, budget_s=budget)
        response.attempts = request.attempt + 1
        return response
