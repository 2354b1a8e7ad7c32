"""Pristine plugin ``otel``: an OpenTelemetry span per call, W3C trace context on the wire.

Each call runs inside a ``CLIENT`` span named ``resource.endpoint`` (attributes: method, URL
with secrets redacted, pool, status, attempts; status ERROR for error statuses and failures).
With ``propagate`` on (the manifest may name an environment variable for it) the span's
context goes out as ``traceparent``/``tracestate`` headers. The plugin uses only
``opentelemetry-api``: without an SDK configured by the application spans are no-ops.
"""

from __future__ import annotations

from pristine_plugins.otel.plugin import OtelPlugin, inject_headers
from pristine_plugins.otel.settings import OtelSettings

__all__ = ["OtelPlugin", "OtelSettings", "inject_headers"]
