"""Pristine plugin ``telemetry``: batched, bounded telemetry shipped to the API's own endpoint.

The manifest's ``features.telemetry`` block names the endpoint and the wire types. Events (session
start/end, generic events, exceptions with user errors classified apart, forwarded
``request.error`` events) go into a bounded queue; one background thread per client sends them in
batches. Reach a client's reporter with :func:`telemetry_of`; report exceptions with
:class:`capture`. See this plugin's README for the settings.
"""

from __future__ import annotations

from pristine_plugins.telemetry.capture import STATE_KEY, capture, telemetry_of
from pristine_plugins.telemetry.events import (
    GENERIC_EVENT,
    SESSION_END,
    SESSION_START,
    SEVERITIES,
    UNHANDLED_EXCEPTION,
    USER_ERROR_EVENT,
    EventFactory,
    find_user_error,
    is_user_error,
    sanitize,
)
from pristine_plugins.telemetry.plugin import BatchShape, TelemetryPlugin, TelemetrySendError, process_uuid
from pristine_plugins.telemetry.reporter import THREAD_NAME, Telemetry
from pristine_plugins.telemetry.settings import TelemetryConfig, TelemetrySettings, is_enabled

__all__ = [
    "GENERIC_EVENT",
    "SESSION_END",
    "SESSION_START",
    "SEVERITIES",
    "STATE_KEY",
    "THREAD_NAME",
    "UNHANDLED_EXCEPTION",
    "USER_ERROR_EVENT",
    "BatchShape",
    "EventFactory",
    "Telemetry",
    "TelemetryPlugin",
    "TelemetrySendError",
    "TelemetrySettings",
    "TelemetryConfig",
    "capture",
    "find_user_error",
    "is_enabled",
    "is_user_error",
    "process_uuid",
    "sanitize",
    "telemetry_of",
]
