"""Account-level state of the emulator: the audit trail and trace-export links.

The emulator has one principal (every accepted API key acts as it). Checkpoint creation is
read from the checkpoint store when the audit log is asked for; the events below are the ones
only the account handlers see (copies, project moves, external-weights downloads).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import attrs

from .clock import Clock
from .errors import ApiError

#: The emulator's single principal (``TrainingRun.model_owner`` uses the same user name).
USER_NAME = "emulator-user"
USER_URN = f"urn:tinker:user:{USER_NAME}"
ORG_URN = "urn:tinker:org:emulator"
#: What the storage usage report charges per gigabyte-month (a fixed, documented rate).
USD_PER_GB_MONTH = 0.10


@attrs.frozen
class AuditEvent:
    """One audit-log entry."""

    timestamp: float
    event: str
    category: str  # checkpoints | projects
    model_id: str | None = None
    tinker_path: str | None = None
    purpose: str | None = None
    details: dict[str, Any] = attrs.Factory(dict)


class AccountState:
    """Thread-safe audit trail and short-lived trace download tokens."""

    def __init__(self, clock: Clock, link_ttl_s: float = 3600.0) -> None:
        self._clock = clock
        self._link_ttl_s = link_ttl_s
        self._lock = threading.Lock()
        self._events: list[AuditEvent] = []
        self._traces: dict[str, tuple[str, float]] = {}
        self._run_projects: dict[str, str] = {}

    def set_run_project(self, run_id: str, project_id: str) -> None:
        """Attribute a training run (a weights copy) to a project."""
        with self._lock:
            self._run_projects[run_id] = project_id

    def run_project(self, run_id: str) -> str | None:
        """The project a run was attributed to, if any."""
        with self._lock:
            return self._run_projects.get(run_id)

    def record(self, event: str, category: str, **fields: Any) -> None:
        """Append an audit event stamped now."""
        with self._lock:
            self._events.append(AuditEvent(self._clock(), event, category, **fields))

    def events(self) -> list[AuditEvent]:
        """Every recorded event, oldest first."""
        with self._lock:
            return list(self._events)

    def issue_trace(self, session_id: str) -> tuple[str, float]:
        """A download token for a session's trace and its expiry."""
        token = uuid.uuid4().hex
        expires = self._clock() + self._link_ttl_s
        with self._lock:
            self._traces[token] = (session_id, expires)
        return token, expires

    def resolve_trace(self, token: str) -> str:
        """The session id of a trace token; 404 unknown, 410 expired."""
        with self._lock:
            found = self._traces.get(token)
        if found is None:
            raise ApiError(404, "unknown trace link", category="user")
        session_id, expires = found
        if self._clock() >= expires:
            raise ApiError(410, "trace link expired; export the trace again", category="user")
        return session_id
