"""The OpenTelemetry plugin: one CLIENT span around each call, trace context on the wire.

The OpenTelemetry API is imported when a client builds its middleware, not when the plugin is
loaded, so listing plugins (``pristine plugins``) does not pay for it.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING

from pristine_core import hookimpl
from pristine_core.bands import TELEMETRY
from pristine_core.contract import PluginSettings
from pristine_core.errors import PristineError
from pristine_core.pipeline import CallNext, Middleware, Request, Response
from pristine_plugins.otel.settings import SETTINGS, OtelConfig, OtelSettings
from pristine_runtime.secrets import redact

if TYPE_CHECKING:
    from opentelemetry import trace

    from pristine_core.client import Client

FEATURE = "otel"
#: Outermost of the observability steps: the span covers retries, waits and the metrics step.
PRIORITY = TELEMETRY + 20


def inject_headers(headers: MutableMapping[str, str]) -> None:
    """Add the current context's ``traceparent``/``tracestate``, never replacing a header the
    caller set (any propagator failure leaves the headers as they were)."""
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    try:
        propagate.inject(carrier)
    except Exception:
        return
    present = {name.lower() for name in headers}
    for name, value in carrier.items():
        if name.lower() not in present:
            headers[name] = value


class OtelPlugin:
    """Opens a span per call named after the endpoint; optionally propagates its context.

    Spans go to ``tracer_provider`` when given, else to the global provider the application
    set up (a no-op until it does).
    """

    name = "otel"
    priority = PRIORITY

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.settings: OtelSettings | None = None
        self._provider = tracer_provider

    @hookimpl
    def pristine_settings(self) -> PluginSettings:
        """``features.otel`` and the config key ``otel``."""
        return SETTINGS

    @hookimpl
    def pristine_configure(self, client: Client) -> None:
        """Resolve the settings (the environment is read once, here)."""
        block = client.meta.manifest.section("features.otel")
        overrides = client.meta.settings_of(OtelConfig).otel
        self.settings = OtelSettings.build(block, overrides, client.meta.environ)

    @hookimpl
    def pristine_dispatch_middleware(self, client: Client) -> Middleware | None:
        """A middleware that runs each call inside a span."""
        settings = self.settings
        if settings is None or not settings.enabled:
            return None
        from opentelemetry import trace
        from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, SpanKind, Status, StatusCode

        tracer = trace.get_tracer(settings.tracer_name, tracer_provider=self._provider)
        prefix, propagate_context = settings.span_prefix, settings.propagate
        explicit = self._provider is not None
        #: The API's own providers while no SDK is installed: their spans are no-ops.
        no_sdk = (ProxyTracerProvider, NoOpTracerProvider)

        def traced(request: Request, call_next: CallNext) -> Response:
            if not explicit and isinstance(trace.get_tracer_provider(), no_sdk):
                # No SDK installed: the span would be a no-op that leaves the current context as
                # it is, so skip building it (a provider installed later is picked up here).
                if propagate_context:
                    inject_headers(request.headers)
                return call_next(request)
            endpoint = request.call.endpoint if request.call is not None else None
            name = prefix + (endpoint.qualified_name if endpoint is not None else request.method)
            attributes = {
                "http.request.method": request.method,
                "url.full": redact(request.url),
                "pristine.pool": request.pool,
            }
            if endpoint is not None:
                attributes["pristine.endpoint"] = endpoint.qualified_name
            with tracer.start_as_current_span(
                name, kind=SpanKind.CLIENT, attributes=attributes, record_exception=False, set_status_on_exception=False
            ) as span:
                if propagate_context:
                    inject_headers(request.headers)
                try:
                    response = call_next(request)
                except PristineError as exc:
                    span.set_attribute("error.type", type(exc).__name__)
                    status = getattr(exc, "status_code", None)
                    if isinstance(status, int):
                        span.set_attribute("http.response.status_code", status)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    raise
                span.set_attribute("http.response.status_code", response.status_code)
                span.set_attribute("pristine.attempts", response.attempts)
                if response.status_code >= 400:
                    span.set_status(Status(StatusCode.ERROR, f"HTTP {response.status_code}"))
                return response

        return Middleware("otel", PRIORITY, traced)
