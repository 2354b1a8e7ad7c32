"""The tinker 0.38 account methods of :class:`~tinkex_domain.rest_client.RestClient`.

Weight copies, external-weights URLs, session project / search / trace export, identity,
billing usage, audit log and checkpoint storage usage. Every method checks its arguments before
any request and returns an :class:`APIFuture`; the ``_async`` twins return the value. The result
classes are the manifest's types (built by the core; typed classes come with the codegen of
issue 15, hence ``APIFuture[Any]`` for them here).
"""

from __future__ import annotations

import datetime as _dt
import os
import warnings
from collections.abc import Mapping
from typing import Any, Literal

from pristine_core import RequestOptions
from pristine_core.errors import RequestFailedError, ValidationError
from tinkex_domain._futures import APIFuture, mapped, run_now
from tinkex_domain.holder import Holder
from tinkex_domain.types import ParsedCheckpointTinkerPath
from tinkex_domain.types._common import as_int

#: Header carrying a weights access token (a secret: never logged).
WEIGHTS_TOKEN_HEADER = "X-Tinker-Weights-Access-Token"
AuditEventType = Literal["all", "checkpoints", "projects", "teams", "organizations"]
AUDIT_EVENT_TYPES = ("all", "checkpoints", "projects", "teams", "organizations")
PROJECT_ENV = "TINKER_PROJECT_ID"


class ExperimentalWarning(FutureWarning):
    """Warns that a method may change or go away in any release (``search_sessions``)."""


def _nonempty(method: str, field: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError([(field, "must be a non-empty string")], method)
    return value


def _copy_ttl(ttl_seconds: Any) -> int | None:
    if ttl_seconds is None:
        return None
    ttl = as_int("copy_weights", "ttl_seconds", ttl_seconds)
    if not 3600 <= ttl <= 10 * 366 * 86400:
        raise ValidationError([("ttl_seconds", "must be between 3600 (1 hour) and 10 years, or None")], "copy_weights")
    return ttl


def _rfc3339(field: str, value: Any) -> str:
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)
    elif isinstance(value, str):
        try:
            moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                [(field, f"must be an RFC 3339 date-time, got {value!r}")], "get_billing_usage"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_dt.timezone.utc)
    else:
        raise ValidationError(
            [(field, f"expected a datetime or string, got {type(value).__name__}")], "get_billing_usage"
        )
    if moment.minute or moment.second or moment.microsecond:
        raise ValidationError([(field, "must be aligned to the hour")], "get_billing_usage")
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _search_body(request: Any) -> dict[str, Any]:
    if request is None:
        return {}
    if hasattr(request, "model_dump"):  # a tinker SessionSearchRequest works too
        request = request.model_dump(mode="json", exclude_none=True)
    elif not isinstance(request, Mapping):
        try:
            import attrs

            request = attrs.asdict(request)
        except Exception:
            raise ValidationError(
                [("request", "expected a mapping or a SessionSearchRequest")], "search_sessions"
            ) from None
    return {k: v for k, v in dict(request).items() if v is not None}


class RestAccountMixin:
    """Account-level REST methods (mixed into ``RestClient``)."""

    holder: Holder

    def _do(self, endpoint: str, **kwargs: Any) -> APIFuture[Any]:
        return run_now(lambda: self.holder.call(endpoint, **kwargs), endpoint)

    # -- weights -----------------------------------------------------------------------

    def copy_weights(
        self,
        path: str,
        destination_project_id: str | None = None,
        *,
        ttl_seconds: int | None = None,
        weights_access_token: str | None = None,
    ) -> APIFuture[str]:
        """Copy a checkpoint into a project (a new, read-only training run); a future of the copy's path.

        ``destination_project_id`` defaults to ``TINKER_PROJECT_ID``; one of them is required.
        """
        ParsedCheckpointTinkerPath.from_tinker_path(path)
        project = destination_project_id or os.environ.get(PROJECT_ENV) or None
        if project is None:
            raise ValidationError([("destination_project_id", f"pass it or set {PROJECT_ENV}")], "copy_weights")
        headers = {WEIGHTS_TOKEN_HEADER: weights_access_token} if weights_access_token is not None else {}
        options = RequestOptions(headers=headers)
        reply = self._do(
            "weights.copy_weights",
            request_options=options,
            source_path=path,
            destination_project_id=project,
            ttl_seconds=_copy_ttl(ttl_seconds),
        )
        return mapped(reply, lambda r: str(r.tinker_path))

    async def copy_weights_async(
        self,
        path: str,
        destination_project_id: str | None = None,
        *,
        ttl_seconds: int | None = None,
        weights_access_token: str | None = None,
    ) -> str:
        """:meth:`copy_weights`' value."""
        future = self.copy_weights(
            path, destination_project_id, ttl_seconds=ttl_seconds, weights_access_token=weights_access_token
        )
        return await future

    def get_external_weights_urls(self, tinker_path: str) -> APIFuture[Any]:
        """A future of ExternalWeightsUrlsResponse: ``urls`` (file → signed URL) and ``expires``."""
        parsed = ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)
        if parsed.checkpoint_type != "external":
            raise ValidationError(
                [("tinker_path", "must name an external_weights checkpoint (from save_weights_external)")],
                "get_external_weights_urls",
            )
        return self._do(
            "rest.get_external_weights_urls", run_id=parsed.training_run_id, checkpoint_id=parsed.checkpoint_id
        )

    async def get_external_weights_urls_async(self, tinker_path: str) -> Any:
        """:meth:`get_external_weights_urls`' value."""
        return await self.get_external_weights_urls(tinker_path)

    # -- sessions ----------------------------------------------------------------------

    def assign_session_project(self, session_id: str, project_id: str) -> APIFuture[None]:
        """Move a session (and its runs and samplers) into a project; it cannot be cleared."""
        _nonempty("assign_session_project", "session_id", session_id)
        _nonempty("assign_session_project", "project_id", project_id)
        reply = self._do("rest.assign_session_project", session_id=session_id, project_id=project_id)
        return mapped(reply, lambda _: None)

    async def assign_session_project_async(self, session_id: str, project_id: str) -> None:
        """:meth:`assign_session_project`, awaited."""
        await self.assign_session_project(session_id, project_id)

    def export_session_trace(self, session_id: str) -> APIFuture[str]:
        """A future of a signed download URL of the session's trace.

        The server builds the trace as a job; a ``pending`` job fails the future with a
        retryable :class:`RequestFailedError` (call again), a ``failed`` one with its error.
        """
        _nonempty("export_session_trace", "session_id", session_id)

        def url(reply: Any) -> str:
            if reply.status == "ready" and reply.url:
                return str(reply.url)
            if reply.status == "failed":
                raise RequestFailedError(
                    f"trace export failed for session {session_id}: {reply.error}", category="server"
                )
            raise RequestFailedError(
                f"trace export for session {session_id} is still pending; call again", category="server"
            )

        return mapped(self._do("rest.export_session_trace", session_id=session_id), url)

    async def export_session_trace_async(self, session_id: str) -> str:
        """:meth:`export_session_trace`' value."""
        return await self.export_session_trace(session_id)

    def search_sessions(self, request: Any = None) -> APIFuture[Any]:
        """A future of SessionSearchResponse: sessions matching ``request`` (a mapping with
        ``session_id``, ``project_ids``, ``user_metadata``, ``statuses``, ``limit``, ``cursor``...)."""
        warnings.warn(
            "RestClient.search_sessions is experimental: it may change in any release",
            ExperimentalWarning,
            stacklevel=2,
        )
        return self._do("rest.search_sessions", **_search_body(request))

    # -- account -----------------------------------------------------------------------

    def whoami(self) -> APIFuture[Any]:
        """A future of WhoamiResponse: the caller's ``user_urn``, ``org_urn`` and ``email``."""
        return self._do("rest.whoami")

    def get_billing_usage(self, starting_on: _dt.datetime | str, ending_before: _dt.datetime | str) -> APIFuture[Any]:
        """A future of BillingUsageResponse for an hour-aligned window of at most 14 days."""
        start, end = _rfc3339("starting_on", starting_on), _rfc3339("ending_before", ending_before)
        return self._do("rest.get_billing_usage", starting_on=start, ending_before=end)

    async def get_billing_usage_async(self, starting_on: _dt.datetime | str, ending_before: _dt.datetime | str) -> Any:
        """:meth:`get_billing_usage`' value."""
        return await self.get_billing_usage(starting_on, ending_before)

    def get_audit_log(self, event_type: AuditEventType = "all", day: _dt.date | None = None) -> APIFuture[Any]:
        """A future of AuditLogResponse (``entries``), optionally for one UTC ``day``."""
        if event_type not in AUDIT_EVENT_TYPES:
            raise ValidationError([("event_type", f"must be one of {', '.join(AUDIT_EVENT_TYPES)}")], "get_audit_log")
        if day is not None and not isinstance(day, _dt.date):
            raise ValidationError([("day", f"expected a date, got {type(day).__name__}")], "get_audit_log")
        query_day = day.isoformat() if isinstance(day, _dt.date) else None
        return self._do("rest.get_audit_log", event_type=event_type, day=query_day)

    async def get_audit_log_async(self, event_type: AuditEventType = "all", day: _dt.date | None = None) -> Any:
        """:meth:`get_audit_log`' value."""
        return await self.get_audit_log(event_type, day)

    def get_current_checkpoint_storage_usage(self, project_id: str | None = None) -> APIFuture[Any]:
        """A future of CurrentCheckpointStorageUsageResponse (per project; one project if given)."""
        if project_id is not None:
            _nonempty("get_current_checkpoint_storage_usage", "project_id", project_id)
        return self._do("rest.get_current_checkpoint_storage_usage", project_id=project_id)

    async def get_current_checkpoint_storage_usage_async(self, project_id: str | None = None) -> Any:
        """:meth:`get_current_checkpoint_storage_usage`' value."""
        return await self.get_current_checkpoint_storage_usage(project_id)
