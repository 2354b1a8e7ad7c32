"""``RestClient``: training runs, checkpoints, sessions and samplers, as in the tinker SDK.

As in tinker, the synchronous methods return futures (already resolved: the call has run);
the ``_async`` twins return values. Arguments are checked before any request. The
``iter_*`` helpers walk every page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pristine_core.errors import ValidationError
from tinkex_domain._futures import APIFuture
from tinkex_domain.holder import Holder
from tinkex_domain.rest_account import RestAccountMixin
from tinkex_domain.types import (
    ACCESS_SCOPES,
    Checkpoint,
    CheckpointArchiveUrlResponse,
    CheckpointsListResponse,
    GetSamplerResponse,
    GetServerCapabilitiesResponse,
    GetSessionResponse,
    ListSessionsResponse,
    ParsedCheckpointTinkerPath,
    TrainingRun,
    TrainingRunsResponse,
    WeightsInfoResponse,
)
from tinkex_domain.types._common import as_int


def _scope(access_scope: str) -> str:
    value = getattr(access_scope, "value", access_scope)
    if value not in ACCESS_SCOPES:
        raise ValidationError([("access_scope", f"must be one of {', '.join(ACCESS_SCOPES)}, got {access_scope!r}")])
    return str(value)


def _page(limit: int, offset: int) -> tuple[int, int]:
    lim, off = as_int("rest", "limit", limit), as_int("rest", "offset", offset)
    if lim < 1 or off < 0:
        raise ValidationError([("limit", "must be >= 1") if lim < 1 else ("offset", "must be >= 0")])
    return lim, off


def _path(tinker_path: str) -> ParsedCheckpointTinkerPath:
    return ParsedCheckpointTinkerPath.from_tinker_path(tinker_path)


class RestClient(RestAccountMixin):
    """REST resources of the Tinker API; obtained from ``ServiceClient.create_rest_client()``."""

    def __init__(self, holder: Holder) -> None:
        self.holder = holder

    def raw_response(self, endpoint: str, **kwargs: Any) -> Any:
        """The raw HTTP response of a manifest endpoint (e.g. ``"rest.list_checkpoints"``,
        ``run_id=...``): status, headers and body, nothing parsed."""
        return self.holder.raw(endpoint, **kwargs)

    # -- training runs --------------------------------------------------------------------

    def list_training_runs(
        self, limit: int = 20, offset: int = 0, access_scope: str = "owned", project_id: str | None = None
    ) -> APIFuture[TrainingRunsResponse]:
        """A future of TrainingRunsResponse (one page, newest first)."""
        lim, off = _page(limit, offset)
        return self._do(
            "rest.list_training_runs", limit=lim, offset=off, access_scope=_scope(access_scope), project_id=project_id
        )

    def get_training_run(self, training_run_id: str, access_scope: str = "owned") -> APIFuture[TrainingRun]:
        """A future of TrainingRun."""
        return self._do("rest.get_training_run", run_id=training_run_id, access_scope=_scope(access_scope))

    def get_training_run_by_tinker_path(self, tinker_path: str, access_scope: str = "owned") -> APIFuture[TrainingRun]:
        """A future of the TrainingRun a checkpoint path belongs to."""
        return self.get_training_run(_path(tinker_path).training_run_id, access_scope)

    def iter_training_runs(self, page_size: int = 100, access_scope: str = "owned") -> Iterator[TrainingRun]:
        """Every training run, page by page."""
        offset = 0
        while True:
            page = self.list_training_runs(page_size, offset, access_scope).result()
            yield from page.training_runs
            offset += len(page.training_runs)
            total = page.cursor.total_count if page.cursor is not None else None
            if not page.training_runs or len(page.training_runs) < page_size or (total is not None and offset >= total):
                return

    # -- checkpoints ----------------------------------------------------------------------

    def list_checkpoints(self, training_run_id: str) -> APIFuture[CheckpointsListResponse]:
        """A future of CheckpointsListResponse for one training run."""
        return self._do("rest.list_checkpoints", run_id=training_run_id)

    def list_user_checkpoints(self, limit: int = 100, offset: int = 0) -> APIFuture[CheckpointsListResponse]:
        """A future of one page of all the user's checkpoints (newest first)."""
        lim, off = _page(limit, offset)
        return self._do("rest.list_user_checkpoints", limit=lim, offset=off)

    def iter_user_checkpoints(self, page_size: int = 100) -> Iterator[Checkpoint]:
        """Every checkpoint of the user, page by page."""
        offset = 0
        while True:
            page = self.list_user_checkpoints(page_size, offset).result()
            yield from page.checkpoints
            offset += len(page.checkpoints)
            total = page.cursor.total_count if page.cursor is not None else None
            if not page.checkpoints or len(page.checkpoints) < page_size or (total is not None and offset >= total):
                return

    def delete_checkpoint(self, training_run_id: str, checkpoint_id: str) -> APIFuture[None]:
        """Delete a checkpoint (``checkpoint_id`` like ``weights/<name>``)."""
        return self._do("rest.delete_checkpoint", run_id=training_run_id, checkpoint_id=checkpoint_id)

    def delete_checkpoint_from_tinker_path(self, tinker_path: str) -> APIFuture[None]:
        """Delete the checkpoint at a tinker path."""
        p = _path(tinker_path)
        return self.delete_checkpoint(p.training_run_id, p.checkpoint_id)

    def publish_checkpoint(self, training_run_id: str, checkpoint_id: str) -> APIFuture[None]:
        """Make a checkpoint public."""
        return self._do("rest.publish_checkpoint", run_id=training_run_id, checkpoint_id=checkpoint_id)

    def publish_checkpoint_from_tinker_path(self, tinker_path: str) -> APIFuture[None]:
        """Make the checkpoint at a tinker path public."""
        p = _path(tinker_path)
        return self.publish_checkpoint(p.training_run_id, p.checkpoint_id)

    def unpublish_checkpoint(self, training_run_id: str, checkpoint_id: str) -> APIFuture[None]:
        """Make a checkpoint private again."""
        return self._do("rest.unpublish_checkpoint", run_id=training_run_id, checkpoint_id=checkpoint_id)

    def unpublish_checkpoint_from_tinker_path(self, tinker_path: str) -> APIFuture[None]:
        """Make the checkpoint at a tinker path private again."""
        p = _path(tinker_path)
        return self.unpublish_checkpoint(p.training_run_id, p.checkpoint_id)

    def set_checkpoint_ttl_from_tinker_path(self, tinker_path: str, ttl_seconds: int | None) -> APIFuture[None]:
        """Expire a checkpoint ``ttl_seconds`` from now; None removes the expiry."""
        if ttl_seconds is not None:
            ttl_seconds = as_int("set_checkpoint_ttl", "ttl_seconds", ttl_seconds)
            if ttl_seconds < 1:
                raise ValidationError([("ttl_seconds", "must be a positive integer, or None to remove the TTL")])
        p = _path(tinker_path)
        return self._do(
            "rest.set_checkpoint_ttl", run_id=p.training_run_id, checkpoint_id=p.checkpoint_id, ttl_seconds=ttl_seconds
        )

    def get_checkpoint_archive_url(
        self, training_run_id: str, checkpoint_id: str
    ) -> APIFuture[CheckpointArchiveUrlResponse]:
        """A future of CheckpointArchiveUrlResponse: a signed download URL and its expiry."""
        return self._do("rest.get_checkpoint_archive_url", run_id=training_run_id, checkpoint_id=checkpoint_id)

    def get_checkpoint_archive_url_from_tinker_path(self, tinker_path: str) -> APIFuture[CheckpointArchiveUrlResponse]:
        """The archive URL of the checkpoint at a tinker path."""
        p = _path(tinker_path)
        return self.get_checkpoint_archive_url(p.training_run_id, p.checkpoint_id)

    def get_weights_info_by_tinker_path(self, tinker_path: str) -> APIFuture[WeightsInfoResponse]:
        """A future of WeightsInfoResponse (base model, LoRA rank, trained parts)."""
        _path(tinker_path)
        return self._do("weights.weights_info", tinker_path=tinker_path)

    # -- sessions and samplers ------------------------------------------------------------

    def list_sessions(
        self, limit: int = 20, offset: int = 0, access_scope: str = "owned"
    ) -> APIFuture[ListSessionsResponse]:
        """A future of ListSessionsResponse."""
        lim, off = _page(limit, offset)
        return self._do("rest.list_sessions", limit=lim, offset=off, access_scope=_scope(access_scope))

    def iter_sessions(self, page_size: int = 100, access_scope: str = "owned") -> Iterator[str]:
        """Every session id, page by page."""
        offset = 0
        while True:
            page = self.list_sessions(page_size, offset, access_scope).result()
            yield from page.sessions
            offset += len(page.sessions)
            total = page.cursor.total_count if page.cursor is not None else None
            if not page.sessions or len(page.sessions) < page_size or (total is not None and offset >= total):
                return

    def get_session(self, session_id: str, access_scope: str = "owned") -> APIFuture[GetSessionResponse]:
        """A future of GetSessionResponse (the session's training runs and samplers)."""
        return self._do("rest.get_session", session_id=session_id, access_scope=_scope(access_scope))

    def get_sampler(self, sampler_id: str) -> APIFuture[GetSamplerResponse]:
        """A future of GetSamplerResponse."""
        return self._do("sampling.get_sampler", sampler_id=sampler_id)

    # -- server, telemetry ----------------------------------------------------------------

    def get_server_capabilities(self) -> APIFuture[GetServerCapabilitiesResponse]:
        """A future of the models the service supports."""
        return self._do("service.get_server_capabilities")

    def get_telemetry(self) -> Any:
        """The telemetry reporter of this client (None when telemetry is off or not installed)."""
        return self.holder.telemetry()

    # -- async twins (tinker's: they return the value) ----------------------------------------

    async def list_training_runs_async(
        self, limit: int = 20, offset: int = 0, access_scope: str = "owned", project_id: str | None = None
    ) -> TrainingRunsResponse:
        """:meth:`list_training_runs`' value."""
        return await self.holder.run(self.list_training_runs, limit, offset, access_scope, project_id)

    async def get_training_run_async(self, training_run_id: str, access_scope: str = "owned") -> TrainingRun:
        """:meth:`get_training_run`'s value."""
        return await self.holder.run(self.get_training_run, training_run_id, access_scope)

    async def get_training_run_by_tinker_path_async(self, tinker_path: str, access_scope: str = "owned") -> TrainingRun:
        """:meth:`get_training_run_by_tinker_path`'s value."""
        return await self.holder.run(self.get_training_run_by_tinker_path, tinker_path, access_scope)

    async def list_checkpoints_async(self, training_run_id: str) -> CheckpointsListResponse:
        """:meth:`list_checkpoints`' value."""
        return await self.holder.run(self.list_checkpoints, training_run_id)

    async def list_user_checkpoints_async(self, limit: int = 100, offset: int = 0) -> CheckpointsListResponse:
        """:meth:`list_user_checkpoints`' value."""
        return await self.holder.run(self.list_user_checkpoints, limit, offset)

    async def delete_checkpoint_async(self, training_run_id: str, checkpoint_id: str) -> None:
        """:meth:`delete_checkpoint`, awaited."""
        await self.holder.run(self.delete_checkpoint, training_run_id, checkpoint_id)

    async def delete_checkpoint_from_tinker_path_async(self, tinker_path: str) -> None:
        """:meth:`delete_checkpoint_from_tinker_path`, awaited."""
        await self.holder.run(self.delete_checkpoint_from_tinker_path, tinker_path)

    async def publish_checkpoint_from_tinker_path_async(self, tinker_path: str) -> None:
        """:meth:`publish_checkpoint_from_tinker_path`, awaited."""
        await self.holder.run(self.publish_checkpoint_from_tinker_path, tinker_path)

    async def unpublish_checkpoint_from_tinker_path_async(self, tinker_path: str) -> None:
        """:meth:`unpublish_checkpoint_from_tinker_path`, awaited."""
        await self.holder.run(self.unpublish_checkpoint_from_tinker_path, tinker_path)

    async def set_checkpoint_ttl_from_tinker_path_async(self, tinker_path: str, ttl_seconds: int | None) -> None:
        """:meth:`set_checkpoint_ttl_from_tinker_path`, awaited."""
        await self.holder.run(self.set_checkpoint_ttl_from_tinker_path, tinker_path, ttl_seconds)

    async def get_checkpoint_archive_url_from_tinker_path_async(self, tinker_path: str) -> CheckpointArchiveUrlResponse:
        """:meth:`get_checkpoint_archive_url_from_tinker_path`'s value."""
        return await self.holder.run(self.get_checkpoint_archive_url_from_tinker_path, tinker_path)

    async def list_sessions_async(
        self, limit: int = 20, offset: int = 0, access_scope: str = "owned"
    ) -> ListSessionsResponse:
        """:meth:`list_sessions`' value."""
        return await self.holder.run(self.list_sessions, limit, offset, access_scope)

    async def get_session_async(self, session_id: str, access_scope: str = "owned") -> GetSessionResponse:
        """:meth:`get_session`'s value."""
        return await self.holder.run(self.get_session, session_id, access_scope)

    async def get_sampler_async(self, sampler_id: str) -> GetSamplerResponse:
        """:meth:`get_sampler`'s value."""
        return await self.holder.run(self.get_sampler, sampler_id)

    def __repr__(self) -> str:
        return f"<RestClient {self.holder.base_url}>"
