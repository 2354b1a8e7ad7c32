"""Sessions: creation, heartbeats and expiry after ``session_timeout_s`` without a heartbeat."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import attrs

from .clock import Clock
from .errors import ApiError


@attrs.define
class Session:
    """One client session and what it owns."""

    session_id: str
    created_at: float
    last_heartbeat: float
    tags: list[str]
    user_metadata: dict[str, Any]
    sdk_version: str | None
    project_id: str | None
    heartbeats: int = 0
    display_name: str | None = None
    expired_at: float | None = None
    training_run_ids: list[str] = attrs.Factory(list)
    sampler_ids: list[str] = attrs.Factory(list)
    finish_reason: str | None = None  # set by sessions/{id}/finish (first reason wins)
    finish_detail: str | None = None


class SessionRegistry:
    """Thread-safe session table. Expiry is evaluated lazily against the injectable clock."""

    def __init__(self, clock: Clock, timeout_s: float | None) -> None:
        self._clock = clock
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(self, tags: list[str], user_metadata: dict[str, Any], sdk_version: str | None,
               project_id: str | None) -> Session:
        """Open a new session."""
        now = self._clock()
        session = Session(f"session-{uuid.uuid4().hex[:12]}", now, now, list(tags),
                          dict(user_metadata), sdk_version, project_id)
        with self._lock:
            self._sessions[session.session_id] = session
        return session

    def _refresh_locked(self, session: Session, now: float) -> None:
        if (session.expired_at is None and self._timeout_s is not None
                and now - session.last_heartbeat >= self._timeout_s):
            session.expired_at = session.last_heartbeat + self._timeout_s

    def _live_locked(self, session_id: str, field: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise ApiError(404, f"unknown session {session_id!r}", field=field, category="user")
        self._refresh_locked(session, self._clock())
        if session.expired_at is not None:
            raise ApiError(404, f"session {session_id!r} expired: no heartbeat for "
                           f"{self._timeout_s:g} s; create a new session", field=field,
                           category="user", extra={"code": "session_expired"})
        return session

    def require(self, session_id: str, field: str = "session_id") -> Session:
        """The live session, or a 404 (unknown or expired)."""
        with self._lock:
            return self._live_locked(session_id, field)

    def heartbeat(self, session_id: str, record: bool = True) -> None:
        """Accept a heartbeat; ``record=False`` answers it without counting (a dropped beat)."""
        with self._lock:
            session = self._live_locked(session_id, "session_id")
            if record:
                session.last_heartbeat = self._clock()
                session.heartbeats += 1

    def finish(self, session_id: str, reason: str, detail: str | None) -> None:
        """Record how the client finished the session; the first reason wins."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise ApiError(404, f"unknown session {session_id!r}", category="user")
            if session.finish_reason is None:
                session.finish_reason, session.finish_detail = reason, detail

    def add_training_run(self, session_id: str, run_id: str) -> None:
        """Remember that ``run_id`` belongs to the session."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and run_id not in session.training_run_ids:
                session.training_run_ids.append(run_id)

    def add_sampler(self, session_id: str, sampler_id: str) -> None:
        """Remember that ``sampler_id`` belongs to the session."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and sampler_id not in session.sampler_ids:
                session.sampler_ids.append(sampler_id)

    def get(self, session_id: str) -> Session:
        """Any known session (live or expired), or a 404."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise ApiError(404, f"unknown session {session_id!r}", category="user")
            self._refresh_locked(session, self._clock())
            return session

    def list_ids(self) -> list[str]:
        """Every session id, newest first."""
        with self._lock:
            return list(reversed(self._sessions))

    def sweep(self) -> None:
        """Evaluate expiry for every session now."""
        now = self._clock()
        with self._lock:
            for session in self._sessions.values():
                self._refresh_locked(session, now)
