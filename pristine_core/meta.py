"""``client.meta``: the namespace of one client's services (manifest, types, clock, scheduler...).

Kept apart from :mod:`pristine_core.client` (which builds a client) so the services a plugin
reads have one small home.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, TypeVar

import pluggy

from pristine_core.defaults import ClientDefaults
from pristine_core.endpoint import EndpointMethod
from pristine_core.logs import get_logger
from pristine_core.manifest.claims import CoreConfig, SettingsSchema
from pristine_core.manifest.models import Manifest
from pristine_core.pipeline import Middleware, Request, Response
from pristine_core.plugins import PluginFailure, PluginRecord
from pristine_core.runner import Pipeline
from pristine_core.transport import Transport
from pristine_core.typesystem import TypeRegistry
from pristine_runtime.clock import SYSTEM_CLOCK, Clock
from pristine_runtime.scheduler import Scheduler
from pristine_runtime.secrets import Secret
from pristine_runtime.tenancy import Tenant

T = TypeVar("T")
#: The client's schedulers report failing tasks here (``pristine.scheduler.task_failed``).
_log = get_logger(__name__)


class ClientMeta:
    """The services of one client: ``client.meta.<name>``.

    ``manifest``, ``types``, ``schema`` (the plugins' declared settings), ``base_url``,
    ``timeout_s``, ``tenant``, ``clock``, ``state`` (per-plugin scratch space), ``config`` (the
    checked ``Client(config=...)`` mapping, the defaults' values under it), ``defaults`` (the
    :class:`~pristine_core.defaults.ClientDefaults` a plugin supplied, e.g. from environment
    variables), ``environ``, ``transport``, ``pipeline``, ``hook``,
    ``plugin_manager``, ``plugin_failures``, ``middleware``, ``scheduler`` (timers and bounded
    workers for plugins, started on first use) and ``watchdog`` (a real-time timer for socket
    deadlines).
    """

    def __init__(
        self,
        *,
        pm: pluggy.PluginManager,
        records: list[PluginRecord],
        failures: list[PluginFailure],
        manifest: Manifest,
        schema: SettingsSchema,
        types: TypeRegistry,
        config: Mapping[str, Any],
        config_settings: Mapping[Any, Any],
        defaults: ClientDefaults,
        environ: Mapping[str, str] | None,
        clock: Clock,
        api_key: Secret | None,
        tenant: Tenant,
        pipeline: Pipeline,
    ) -> None:
        self.plugin_manager = pm
        self.hook = pm.hook
        self.plugin_failures = failures
        self.manifest = manifest
        self.schema = schema
        self.types = types
        self.config: Mapping[str, Any] = dict(config)
        self.defaults = defaults
        #: The environment mapping the client was given, as a
        #: :class:`~pristine_runtime.secrets.SecretEnviron` (secret values never shown; None: ``os.environ``).
        self.environ = environ
        self.clock = clock
        self.tenant = tenant
        self.state: dict[str, Any] = {}
        self.pipeline = pipeline
        self.closed = False
        self._scheduler: Scheduler | None = None
        self._watchdog: Scheduler | None = None
        self._scheduler_lock = threading.Lock()
        self._schedulers_closed = False
        self._records = records
        self._config_settings = dict(config_settings)
        self._api_key = api_key
        self._methods: dict[str, EndpointMethod] = {}

    @property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        return self.pipeline.base_url

    @property
    def timeout_s(self) -> float:
        """The default timeout of a call (the manifest's, or the client's ``timeout_s``)."""
        return self.pipeline.timeout_s

    @property
    def call_timeout_s(self) -> float | None:
        """The client's explicit ``timeout_s`` (None when not given): it bounds each whole call."""
        return self.pipeline.call_timeout_s

    @property
    def transport(self) -> Transport:
        """The transport every attempt goes through."""
        return self.pipeline.transport

    @property
    def middleware(self) -> list[Middleware]:
        """The dispatch middleware, outermost first."""
        return list(self.pipeline.middleware)

    @property
    def scheduler_workers(self) -> int:
        """Worker threads of :attr:`scheduler`: ``config["scheduler_workers"]``, else the
        manifest's ``defaults.scheduler_workers`` (8)."""
        configured = self.settings_of(CoreConfig).scheduler_workers
        return configured if configured is not None else self.manifest.defaults.scheduler_workers

    @property
    def scheduler(self) -> Scheduler:
        """This client's :class:`~pristine_runtime.scheduler.Scheduler` (started lazily, closed with
        the client; at most :attr:`scheduler_workers` worker threads). After the client closed it
        is a closed scheduler that refuses work: reading it never starts threads again."""
        with self._scheduler_lock:
            if self._scheduler is None:
                self._scheduler = Scheduler(
                    self.clock, max_workers=self.scheduler_workers, name=f"pristine-{self.manifest.name}", log=_log
                )
                if self._schedulers_closed:
                    self._scheduler.close(0.0)
            return self._scheduler

    @property
    def watchdog(self) -> Scheduler:
        """A timer on the *real* clock (one thread, started on first use, stopped with the client)
        for deadlines on sockets: a :class:`~pristine_runtime.sockguard.DeadlineGuard`, or a plugin
        cutting a stalled stream. Real time, whatever :attr:`clock` is, because sockets run on it."""
        with self._scheduler_lock:
            if self._watchdog is None:
                self._watchdog = Scheduler(
                    SYSTEM_CLOCK, max_workers=0, name=f"pristine-watchdog-{self.manifest.name}", log=_log
                )
                if self._schedulers_closed:
                    self._watchdog.close(0.0)
            return self._watchdog

    def close_scheduler(self) -> None:
        """Stop the scheduler and the watchdog, if started (the client calls this when it closes)."""
        with self._scheduler_lock:
            self._schedulers_closed = True
            scheduler, watchdog = self._scheduler, self._watchdog
        if scheduler is not None:
            scheduler.close()
        if watchdog is not None:
            watchdog.close(1.0)

    @property
    def api_key(self) -> Secret | None:
        """The API key, wrapped so that it never prints."""
        return self._api_key

    def settings_of(self, cls: type[T]) -> T:
        """The client's ``config`` values for a plugin's declared config class (defaults applied)."""
        found = self._config_settings.get(cls)
        return found if found is not None else self.schema.option_defaults(cls)  # type: ignore[no-any-return]

    def plugins(self) -> list[PluginRecord]:
        """Loaded plugins in effective order (first called first)."""
        return list(self._records)

    def plugin(self, name: str) -> Any:
        """The instance of plugin ``name`` registered for this client (None when absent)."""
        return self.plugin_manager.get_plugin(name)

    def endpoint(self, qualified_name: str) -> EndpointMethod:
        """The endpoint method for ``resource.endpoint`` (``KeyError`` when unknown)."""
        return self._methods[qualified_name]

    def emit(self, name: str, **fields: Any) -> None:
        """Broadcast an :class:`~pristine_core.pipeline.Event` to ``pristine_on_event`` hooks."""
        self.pipeline.emit(name, **fields)

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
        request = Request(
            method=method,
            url=url,
            headers={**self.pipeline.headers(send_api_key), **dict(headers or {})},
            body=None,
            timeout_s=timeout_s or self.timeout_s,
            pool=pool,
            stream=stream,
        )
        return self.transport.send(request)
