"""The call pipeline: the one place a call runs, from its first request to its events.

A :class:`Pipeline` belongs to one client. Endpoint methods (``endpoint.py``) bind arguments
into a :class:`~pristine_core.pipeline.Call` and a first :class:`~pristine_core.pipeline.Request`
with its public attributes; :meth:`Pipeline.execute` emits the request events and runs the
dispatch middleware chain around the transport; ``responses.finish`` maps errors and turns the
response into the result. The attributes below are the whole surface those modules use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from pristine_core.clock import SYSTEM_CLOCK, Clock
from pristine_core.errors import BackoffPending, PristineError
from pristine_core.logs import get_logger
from pristine_core.pipeline import Call, CallNext, Event, Middleware, Request, Response, compose
from pristine_core.secrets import SecretHeaders
from pristine_core.transport import Transport, deadline_exceeded

if TYPE_CHECKING:
    from pristine_core.manifest.claims import SettingsSchema
    from pristine_core.typesystem import TypeRegistry

log = get_logger(__name__)


@attrs.frozen
class HookPresence:
    """Which optional hooks have implementations, so the hot path can skip empty ones."""

    prepare_call: bool
    encode_body: bool
    prepare_attempt: bool
    process_response: bool
    on_event: bool
    estimate_bytes: bool

    @classmethod
    def of(cls, pm: pluggy.PluginManager) -> HookPresence:
        """Look at the registered implementations of ``pm``."""

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


class Pipeline:
    """Everything a call of one client needs, and the steps that run it.

    Public attributes: ``hook`` (the plugins' hook relay), ``hooks`` (:class:`HookPresence`),
    ``types``, ``schema`` (the plugins' declared settings), ``base_url``, ``timeout_s``,
    ``call_timeout_s`` (an explicit client timeout bounds whole calls), ``clock``,
    ``default_query``, ``transport`` and ``middleware`` (set by the client once plugins are
    configured).
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        *,
        types: TypeRegistry,
        schema: SettingsSchema,
        base_url: str,
        timeout_s: float,
        call_timeout_s: float | None = None,
        clock: Clock = SYSTEM_CLOCK,
        default_query: Mapping[str, Any],
        headers: Mapping[str, str],
        auth_headers: SecretHeaders,
        transport: Transport,
        event_fields: Mapping[str, Any] | None = None,
    ) -> None:
        self.hook = pm.hook
        self.hooks = HookPresence.of(pm)
        self.types = types
        self.schema = schema
        self.base_url = base_url
        self.timeout_s = timeout_s
        #: The client's explicit ``timeout_s`` (None when not given): it bounds each whole call.
        self.call_timeout_s = call_timeout_s
        self.clock = clock
        self.default_query = dict(default_query)
        self.transport = transport
        self.middleware: list[Middleware] = []
        self._anonymous = dict(headers)
        #: The API key (and secret headers) stay Secrets until a request is built.
        self._authenticated = auth_headers
        self._event_impls = list(reversed(pm.hook.pristine_on_event.get_hookimpls()))
        self._event_fields = dict(event_fields or {})
        self._dispatch: CallNext = self._send

    def headers(self, auth: bool) -> dict[str, str]:
        """A fresh copy of the base headers, with the API key when ``auth`` is true."""
        return self._authenticated.reveal() if auth else dict(self._anonymous)

    def use_middleware(self, middleware: list[Middleware]) -> None:
        """Compose the dispatch chain (highest priority outermost) around the transport."""
        self.middleware = sorted(middleware, key=lambda m: (-m.priority, m.name))
        self._dispatch = compose(self.middleware, self._send)

    def emit(self, name: str, **fields: Any) -> None:
        """Broadcast an :class:`~pristine_core.pipeline.Event` to ``pristine_on_event`` hooks."""
        if not self._event_impls:
            return
        event = Event(name, fields)
        # One by one, so that a failing observer neither breaks the call nor starves the rest.
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

    def execute(self, call: Call, request: Request) -> Response:
        """Send the first request of ``call`` through the middleware chain; emit its events."""
        name = call.endpoint.qualified_name
        events = self.hooks.on_event
        # Every request event names its pool and carries config["event_metadata"].
        extra = {"pool": request.pool, **self._event_fields} if events else {}
        if events:
            self.emit("request.start", endpoint=name, method=request.method, **extra)
        try:
            response = self._dispatch(request)
        except BackoffPending as exc:  # not a failure: the caller sends it again later
            if events:
                self.emit("request.deferred", endpoint=name, delay_s=exc.delay_s, **extra)
            raise
        except PristineError as exc:
            if events:
                self.emit("request.error", endpoint=name, error=type(exc).__name__, exception=exc, **extra)
            raise
        if events:
            self.emit(
                "request.end",
                **extra,
                endpoint=name,
                status=response.status_code,
                attempts=response.attempts,
                elapsed_s=response.elapsed_s,
            )
        return response

    def _send(self, request: Request) -> Response:
        if self.hooks.prepare_attempt:
            self.hook.pristine_prepare_attempt(request=request)
        budget = None
        if request.deadline is not None:
            budget = request.deadline - self.clock.monotonic()
            if budget <= 0:
                raise deadline_exceeded(request)
        response = self.transport.send(request, budget_s=budget)
        response.attempts = request.attempt + 1
        return response
