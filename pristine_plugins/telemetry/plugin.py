"""The telemetry plugin: wire a :class:`Telemetry` reporter to a client and its manifest."""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pristine_core import hookimpl
from pristine_core.bands import TELEMETRY
from pristine_core.contract import PluginSettings, with_changes
from pristine_core.errors import PristineError
from pristine_core.logs import get_logger
from pristine_core.manifest.models import Manifest, TypeSchema
from pristine_core.pipeline import Event, RequestOptions
from pristine_plugins.telemetry.capture import STATE_KEY
from pristine_plugins.telemetry.events import find_user_error, sanitize
from pristine_plugins.telemetry.reporter import THREAD_NAME, Telemetry, sending_now
from pristine_plugins.telemetry.settings import (
    SETTINGS,
    TelemetryConfig,
    TelemetrySettings,
    is_enabled,
    manifest_problems,
)

if TYPE_CHECKING:
    from pristine_core.client import Client

log = get_logger(__name__)

FEATURE = "telemetry"
_RETRYABLE_STATUSES = (408, 409, 429)
_process_uuid = uuid.uuid4().hex


def _new_process_uuid() -> None:
    global _process_uuid
    _process_uuid = uuid.uuid4().hex


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_process_uuid)


def process_uuid() -> str:
    """One random id per OS process (a forked child gets a new one)."""
    return _process_uuid


class TelemetrySendError(PristineError):
    """The telemetry endpoint answered with an error status."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(f"telemetry endpoint answered HTTP {status_code}")

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """408, 409, 429 and 5xx may succeed later."""
        return self.status_code in _RETRYABLE_STATUSES or self.status_code >= 500


def _resolve(types: Mapping[str, TypeSchema], schema: TypeSchema | None) -> TypeSchema | None:
    depth = 0
    while schema is not None and schema.ref is not None and depth < 64:
        schema = types.get(schema.ref)
        depth += 1
    return schema


class BatchShape:
    """How events and batches look on the wire, read from the manifest's types."""

    def __init__(self, manifest: Manifest, settings: TelemetrySettings) -> None:
        types = manifest.types
        event = _resolve(types, types.get(settings.event_type)) if settings.event_type else None
        self.event_fields: frozenset[str] | None = None
        if event is not None and event.properties and event.additional_properties is False:
            self.event_fields = frozenset(event.properties)
        batch = _resolve(types, types.get(settings.batch_type)) if settings.batch_type else None
        self.batch_fields: frozenset[str] = frozenset(batch.properties) if batch is not None else frozenset()
        self.events_field = "events"
        for name, prop in (batch.properties.items() if batch is not None else ()):
            if prop.type == "array" and prop.items is not None and prop.items.ref == settings.event_type:
                self.events_field = name
                break
        self.static = dict(settings.batch_fields)

    def body(self, events: list[dict[str, Any]], session_id: str | None) -> dict[str, Any]:
        """The request body for one batch of events."""
        if self.event_fields is not None:
            events = [{k: v for k, v in e.items() if k in self.event_fields} for e in events]
        body: dict[str, Any] = dict(self.static)
        body[self.events_field] = events
        for key, value in (
            ("session_id", session_id),
            ("platform", platform.system()),
            ("process_uuid", process_uuid()),
        ):
            if key in self.batch_fields and key not in body and value is not None:
                body[key] = value
        return body


def _session_id(client: Client) -> str | None:
    """The session plugin's session id when that plugin is installed and has one."""
    try:
        from pristine_plugins.session import session_of
    except ImportError:
        return None
    try:
        return session_of(client).session_id
    except Exception:
        return None


class TelemetryPlugin:
    """Ships batched telemetry (session start/end, generic events, exceptions) to the manifest's
    telemetry endpoint from one background thread per client; a dead sink costs callers nothing."""

    name = "telemetry"
    priority = TELEMETRY

    def __init__(self) -> None:
        self.settings: TelemetrySettings | None = None
        self.telemetry: Telemetry | None = None
        self._ignored: frozenset[str] = frozenset()
        self._session: dict[str, str | None] = {"id": None}

    @hookimpl
    def pristine_settings(self) -> PluginSettings:
        """``features.telemetry`` and the config key ``telemetry``."""
        return SETTINGS

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """References of ``features.telemetry``; ``batch_type`` holds an array of ``event_type``."""
        problems = manifest_problems(manifest)
        block: TelemetrySettings | None = manifest.section("features.telemetry")
        if block is None:
            return problems
        batch = _resolve(manifest.types, manifest.types.get(block.batch_type or ""))
        if batch is not None and block.event_type:
            arrays = [p for p in batch.properties.values() if p.type == "array" and p.items is not None]
            if not any(p.items is not None and p.items.ref == block.event_type for p in arrays):
                problems.append(("features.telemetry.batch_type", f"has no array property of {block.event_type}"))
        return problems

    @hookimpl
    def pristine_configure(self, client: Client) -> None:
        """Decide the toggle and build the reporter (no thread, no network yet)."""
        block: TelemetrySettings | None = client.meta.manifest.section("features.telemetry")
        if block is None:
            return
        given = client.meta.settings_of(TelemetryConfig).telemetry
        overrides = dict(given) if isinstance(given, Mapping) else {}
        explicit = given if given is True or given is False else None
        merged = with_changes(block, overrides, "config.telemetry")
        if not is_enabled(merged.env, explicit if explicit is not None else overrides.get("enabled"), merged.enabled):
            return
        settings = self.settings = merged
        method = client.meta.endpoint(settings.endpoint)
        timeout = settings.request_timeout_s or method.endpoint.timeout_s or client.meta.timeout_s
        shape = BatchShape(client.meta.manifest, settings)
        self._ignored = frozenset((settings.endpoint, *settings.ignore_endpoints))
        session = self._session

        no_retries = client.meta.schema.known_options(max_retries=0)

        def send(events: list[dict[str, Any]], timeout_s: float | None) -> None:
            options = RequestOptions(extensions=no_retries, timeout_s=timeout_s or timeout)
            response = method.raw(request_options=options, body=shape.body(events, session["id"]))
            response.close()
            if not response.ok:
                raise TelemetrySendError(response.status_code)

        self.telemetry = Telemetry(
            send,
            clock=client.meta.clock,
            lane=client.meta.watchdog.lane("telemetry", 1, thread_name=THREAD_NAME),
            batch_size=settings.batch_size,
            queue_cap=settings.queue_cap,
            flush_interval_s=settings.flush_interval_s,
            flush_timeout_s=settings.flush_timeout_s,
            request_timeout_s=timeout,
            retry_delay_s=settings.retry_delay_s,
        )
        client.meta.state[STATE_KEY] = self.telemetry

    @hookimpl
    def pristine_client_started(self, client: Client) -> None:
        """Pick up the session (the session plugin started first) and start the thread."""
        if self.telemetry is None:
            return
        session_id = _session_id(client)
        self._session["id"] = session_id
        self.telemetry.session_id = session_id
        self.telemetry.start()

    @hookimpl
    def pristine_event_names(self) -> frozenset[str]:
        """Only the forwarded events (none while telemetry is off)."""
        if self.telemetry is None or self.settings is None:
            return frozenset()
        return frozenset(self.settings.forward_events)

    @hookimpl
    def pristine_on_event(self, event: Event) -> None:
        """Turn forwarded events (``request.error`` by default) into generic events; never blocks."""
        reporter, settings = self.telemetry, self.settings
        if reporter is None or settings is None or event.name not in settings.forward_events or sending_now():
            return
        fields = dict(event.fields)
        if fields.get("endpoint") in self._ignored:
            return
        exc = fields.pop("exception", None)
        severity = "INFO"
        if isinstance(exc, BaseException):
            user = find_user_error(exc)
            fields["message"] = sanitize(exc)
            fields["is_user_error"] = user is not None
            status = getattr(exc, "status_code", None)
            if isinstance(status, int):
                fields["status_code"] = status
            severity = "WARNING" if user is not None else "ERROR"
        reporter.log(event.name, fields, severity)

    @hookimpl
    def pristine_client_closing(self, client: Client) -> None:
        """Queue ``SESSION_END`` and flush, bounded by ``flush_timeout_s``; stop the thread."""
        if self.telemetry is not None:
            self.telemetry.close()
