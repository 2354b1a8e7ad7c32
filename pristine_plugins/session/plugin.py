"""The session plugin: create a session at client start, heartbeat it, inject its id."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pristine_core import hookimpl
from pristine_core.bands import SESSION
from pristine_core.contract import PluginSettings, structure_as, with_changes
from pristine_core.errors import APIResponseValidationError, PristineError, ValidationError
from pristine_core.logs import get_logger
from pristine_core.manifest.models import Endpoint, Manifest, TypeSchema
from pristine_core.pipeline import Call, CallNext, Middleware, Request, RequestOptions, Response
from pristine_core.typesystem.classes import attr_name
from pristine_plugins.session.handle import SessionHandle
from pristine_plugins.session.heartbeat import HeartbeatJob, HeartbeatScheduler, default_scheduler
from pristine_plugins.session.recovery import SessionRecovery
from pristine_plugins.session.settings import (
    JOIN_KEYS,
    SETTINGS,
    SessionConfig,
    SessionJoin,
    SessionSettings,
    manifest_problems,
)

if TYPE_CHECKING:
    from pristine_core.client import Client

log = get_logger(__name__)

FEATURE = "session"
#: Key of ``client.meta.state`` holding this client's :class:`SessionHandle`.
STATE_KEY = "session"


class NoSessionError(PristineError, LookupError):
    """The client has no session (the manifest declares none, or ``config={"session": False}``)."""


def session_of(client: Client) -> SessionHandle:
    """The session of ``client``; :class:`NoSessionError` when it has none."""
    handle = client.meta.state.get(STATE_KEY)
    if not isinstance(handle, SessionHandle):
        raise NoSessionError("this client has no session (features.session absent or switched off)")
    return handle


def _field(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, attr_name(name), None)


def _object_schema(types: Mapping[str, TypeSchema], name: str) -> list[TypeSchema]:
    """The object schemas a value of type ``name`` may take (several for a union)."""
    schema = types.get(name)
    depth = 0
    while schema is not None and schema.ref is not None and depth < 64:
        schema = types.get(schema.ref)
        depth += 1
    if schema is None:
        return []
    if schema.one_of:
        out: list[TypeSchema] = []
        for variant in schema.one_of:
            if variant.ref is not None:
                out += _object_schema(types, variant.ref)
            else:
                out.append(variant)
        return out
    return [schema]


def type_has_field(manifest: Manifest, type_name: str | None, field: str) -> bool:
    """True when every shape of ``type_name`` declares the property ``field``."""
    if type_name is None:
        return False
    shapes = _object_schema(manifest.types, type_name)
    return bool(shapes) and all(field in s.properties for s in shapes)


class SessionPlugin:
    """Creates the manifest's session when the client starts, heartbeats it on the process-wide
    scheduler thread, injects the session id into calls and keeps per-session counters."""

    name = "session"
    priority = SESSION

    def __init__(self) -> None:
        self.settings: SessionSettings | None = None
        self.handle: SessionHandle | None = None
        self.job: HeartbeatJob | None = None
        self.scheduler: HeartbeatScheduler | None = None
        self._given_id: str | None = None
        self._inject: dict[str, bool] = {}
        self._manifest: Manifest | None = None
        self.recovery: SessionRecovery | None = None

    @hookimpl
    def pristine_settings(self) -> PluginSettings:
        """``features.session`` and the config key ``session``."""
        return SETTINGS

    @hookimpl
    def pristine_validate_manifest(self, manifest: Manifest) -> list[tuple[str, str]]:
        """The endpoints ``features.session`` names exist."""
        return manifest_problems(manifest)

    @hookimpl
    def pristine_configure(self, client: Client) -> None:
        """Merge the manifest block with ``config["session"]``; no network yet."""
        block: SessionSettings | None = client.meta.manifest.section("features.session")
        given = client.meta.settings_of(SessionConfig).session
        if block is None or given is False:
            return
        overrides = dict(given) if isinstance(given, Mapping) else {}
        join = structure_as(SessionJoin, {k: overrides.pop(k) for k in JOIN_KEYS if k in overrides}, "config.session")
        if join.scheduler is not None and not isinstance(join.scheduler, HeartbeatScheduler):
            raise ValidationError([("config.session.scheduler", "expected a HeartbeatScheduler")])
        self.settings = with_changes(block, overrides, "config.session")
        self._manifest = client.meta.manifest
        self._given_id = join.session_id
        self.scheduler = join.scheduler or default_scheduler()

    @hookimpl
    def pristine_client_started(self, client: Client) -> None:
        """Create (or join) the session, publish its handle and start heartbeating."""
        settings = self.settings
        if settings is None:
            return
        session_id = self._given_id or self._create(client, settings)
        self.handle = SessionHandle(session_id, settings.counters)
        client.meta.state[STATE_KEY] = self.handle
        if settings.recovery is not None:
            recover = settings.recovery

            def create(expired_id: str) -> str:
                extra = {recover.previous_field: expired_id} if recover.previous_field else {}
                return self._create(client, settings, extra)

            self.recovery = SessionRecovery(
                client, self.handle, recover, create, settings.inject_field, settings.create_endpoint
            )
        if settings.heartbeat_endpoint and self.scheduler is not None:
            self.job = HeartbeatJob(
                session_id,
                self._heartbeat_call(client, settings, session_id),
                client.meta.clock,
                settings.interval_s,
                settings.warn_after_s,
            )
            self.scheduler.add(self.job)
        client.meta.emit("session.started", session_id=session_id)

    def _create(self, client: Client, settings: SessionSettings, extra: Mapping[str, Any] | None = None) -> str:
        body: dict[str, Any] = copy.deepcopy(dict(settings.create_body))
        body.update(extra or {})
        for body_field, config_key in settings.body_from_config.items():
            value = client.meta.config.get(config_key)
            if value is not None:
                body[body_field] = value
        # Retries of the create call end within the client's timeout: a constructor never
        # blocks much longer than that (the retry plugin's call option ``retry``, when loaded).
        bounded = client.meta.schema.known_options(retry={"deadline_s": client.meta.timeout_s})
        options = RequestOptions(extensions=bounded)
        result = client.meta.endpoint(settings.create_endpoint)(request_options=options, body=body)
        session_id = _field(result, settings.id_field)
        if isinstance(session_id, int) and not isinstance(session_id, bool):
            session_id = str(session_id)
        if not isinstance(session_id, str) or not session_id:
            raise APIResponseValidationError(
                f"{settings.create_endpoint}: the response has no {settings.id_field!r}", body=None
            )
        for response_field, level in settings.log_fields.items():
            message = _field(result, response_field)
            if message:
                getattr(log, level)("pristine.session.server_message", session_id=session_id, message=str(message))
        return session_id

    def _heartbeat_call(self, client: Client, settings: SessionSettings, session_id: str) -> Any:
        assert settings.heartbeat_endpoint is not None
        method = client.meta.endpoint(settings.heartbeat_endpoint)
        names = [
            name
            for name in (settings.inject_field, settings.id_field)
            if name and type_has_field(client.meta.manifest, method.endpoint.request, name)
        ]
        no_retries = client.meta.schema.known_options(max_retries=0)
        options = RequestOptions(extensions=no_retries, timeout_s=settings.heartbeat_timeout_s)

        def beat() -> None:
            if client.meta.closed:
                raise PristineError("the client is closed")
            # The current id: after a recovery the same job beats the new session.
            current = self.handle.session_id if self.handle is not None else session_id
            # Any 2xx counts as alive, whatever the body says.
            response = method.raw(request_options=options, body={name: current for name in names})
            response.close()
            if not response.ok:
                if self.recovery is not None and self.recovery.recovery.expired(response):
                    self.recovery.replace(current)
                raise PristineError(f"heartbeat answered HTTP {response.status_code}")

        return beat

    @hookimpl
    def pristine_dispatch_middleware(self, client: Client) -> list[Middleware]:
        """The recovery step (outside retries) when ``recover`` is on; it acts once the session
        exists (after ``pristine_client_started``)."""
        settings = self.settings
        if settings is None or settings.recovery is None:
            return []

        def step(request: Request, call_next: CallNext) -> Response:
            recovery = self.recovery
            return call_next(request) if recovery is None else recovery(request, call_next)

        return [Middleware("session", SESSION, step)]

    @hookimpl
    def pristine_applies_to(self, endpoint: Endpoint) -> bool:
        """Every endpoint when sessions recover (the recovery step); otherwise only those whose
        request type has the ``inject_field``."""
        settings = self.settings
        if settings is None:
            return False
        if settings.recovery is not None:
            return True
        field = settings.inject_field
        if not field or endpoint.request is None or self._manifest is None:
            return False
        return type_has_field(self._manifest, endpoint.request, field)

    @hookimpl
    def pristine_prepare_call(self, call: Call) -> None:
        """Put the session id into the body of calls whose request type has ``inject_field``."""
        handle, settings = self.handle, self.settings
        if handle is None or settings is None or not settings.inject_field:
            return
        ep = call.endpoint
        if ep.request is None:
            return
        field = settings.inject_field
        accepts = self._inject.get(ep.qualified_name)
        if accepts is None and self._manifest is not None:
            accepts = self._inject[ep.qualified_name] = type_has_field(self._manifest, ep.request, field)
        if not accepts:
            return
        body = call.body
        if body is None:
            call.body = {field: handle.session_id}
        elif isinstance(body, Mapping):
            if body.get(field) is None:
                call.body = {**body, field: handle.session_id}
        elif attrs.has(type(body)) and getattr(body, attr_name(field), None) is None:
            try:
                call.body = attrs.evolve(body, **{attr_name(field): handle.session_id})
            except TypeError:
                pass  # a class without that attribute: leave it to validation

    @hookimpl
    def pristine_client_closing(self, client: Client) -> None:
        """Stop this session's heartbeat before returning (the thread exits with the last one)."""
        job, self.job = self.job, None
        if job is not None and self.scheduler is not None and self.settings is not None:
            if not self.scheduler.remove(job, self.settings.close_timeout_s):
                log.warning("pristine.session.heartbeat_stop_slow", session=job.name)
        if self.handle is not None:
            client.meta.emit("session.closed", session_id=self.handle.session_id)
