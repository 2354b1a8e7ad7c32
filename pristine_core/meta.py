"""``client.meta``: the namespace of one client's services (manifest, types, clock, scheduler...).

Kept apart from :mod:`pristine_core.client` (which builds a client) so the services a plugin
reads have one small home.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs
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


@attrs.define(kw_only=True, eq=False, repr=False, slots=False)
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

    plugin_manager: pluggy.PluginManager
    plugin_failures: list[PluginFailure]
    manifest: Manifest
    schema: SettingsSchema
    types: TypeRegistry
    config: Mapping[str, Any]
    defaults: ClientDefaults
    #: The environment mapping the client was given, as a
    #: :class:`~pristine_runtime.secrets.SecretEnviron` (secret values never shown; None: ``os.environ``).
    environ: Mapping[str, str] | None
    clock: Clock
    tenant: Tenant
    pipeline: Pipeline
    _records: list[PluginRecord]
    _config_settings: Mapping[Any, Any]
    #: The API key, wrapped so that it never prints.
    api_key: Secret | None
    state: dict[str, Any] = attrs.field(factory=dict, init=False)
    closed: bool = attrs.field(default=False, init=False)
    #: The scheduler and the watchdog, by name, once started.
    _schedulers: dict[str, Scheduler] = attrs.field(factory=dict, init=False)
    _scheduler_lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)
    _schedulers_closed: bool = attrs.field(default=False, init=False)
    _methods: dict[str, EndpointMethod] = attrs.field(factory=dict, init=False)

    @property
    def hook(self) -> Any:
        """The plugins' hook relay (``plugin_manager.hook``)."""
        return self.plugin_manager.hook

    @property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        return self.pipeline.base_url

    @property
    def timeout_s(self) -> float:
        """The default timeout of a call (the manifest's, or the client's ``timeout_s``)."""
        return self.pipeline.timeout_s

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
        return self._started("scheduler", self.clock, self.scheduler_workers, f"pristine-{self.manifest.name}")

    @property
    def watchdog(self) -> Scheduler:
        """A timer on the *real* clock (one thread, started on first use, stopped with the client)
        for deadlines on sockets: the default transport's deadline guards
        (:class:`~pristine_runtime.sockguard.DeadlineGuard`), or a plugin cutting a stalled stream.
        Real time, whatever :attr:`clock` is, because sockets run on it."""
        return self._started("watchdog", SYSTEM_CLOCK, 0, f"pristine-watchdog-{self.manifest.name}")

    def _started(self, kind: str, clock: Clock, workers: int, name: str) -> Scheduler:
        """The scheduler called ``kind``, built on first use (and closed at once once the client closed)."""
        with self._scheduler_lock:
            found = self._schedulers.get(kind)
            if found is None:
                found = self._schedulers[kind] = Scheduler(clock, max_workers=workers, name=name, log=_log)
                if self._schedulers_closed:
                    found.close(0.0)
            return found

    def begin_closing(self) -> bool:
        """Mark the client closed; True only for the one caller that did it (others return False)."""
        with self._scheduler_lock:
            if self.closed:
                return False
            self.closed = True
            return True

    def close_scheduler(self) -> None:
        """Stop the scheduler and the watchdog, if started (the client calls this when it closes)."""
        with self._scheduler_lock:
            self._schedulers_closed = True
            started = dict(self._schedulers)
        if "scheduler" in started:
            started["scheduler"].close()
        if "watchdog" in started:
            started["watchdog"].close(1.0)

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
