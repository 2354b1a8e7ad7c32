"""Telemetry events: builders, exception classification and JSON sanitising.

Event kinds are ``SESSION_START``, ``SESSION_END``, ``UNHANDLED_EXCEPTION`` and
``GENERIC_EVENT``. Every event has ``event``, ``event_id``, ``event_session_index`` (0, 1, 2...
per reporter), ``severity`` and ``timestamp`` (ISO 8601, UTC); the kinds add ``event_name`` +
``event_data``, ``error_type`` + ``error_message`` + ``traceback``, or ``duration``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import threading
import traceback
import uuid
from collections.abc import Mapping
from typing import Any

import attrs

from pristine_core.errors import USER, PristineError
from pristine_runtime.clock import Clock
from pristine_runtime.secrets import redact

SESSION_START = "SESSION_START"
SESSION_END = "SESSION_END"
UNHANDLED_EXCEPTION = "UNHANDLED_EXCEPTION"
GENERIC_EVENT = "GENERIC_EVENT"
SEVERITIES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
USER_ERROR_EVENT = "user_error"

_MAX_DEPTH = 8
_MAX_TEXT = 4000
_MAX_ITEMS = 200


def severity_of(value: Any) -> str:
    """A valid severity name for ``value`` (case-insensitive; ``WARN`` means ``WARNING``; else INFO)."""
    name = str(value).upper()
    if name == "WARN":
        return "WARNING"
    return name if name in SEVERITIES else "INFO"


def sanitize(value: Any, depth: int = 0) -> Any:
    """A JSON-able copy of ``value``: secrets redacted, containers bounded, others as text."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return redact(value[:_MAX_TEXT])
    if depth >= _MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        items = list(value.items())[:_MAX_ITEMS]
        return {redact(str(k)): sanitize(v, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [sanitize(v, depth + 1) for v in list(value)[:_MAX_ITEMS]]
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}"[:_MAX_TEXT])
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if attrs.has(type(value)):
        return sanitize(attrs.asdict(value, recurse=False), depth + 1)
    return redact(repr(value)[:_MAX_TEXT])


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and everything reachable through ``__cause__``/``__context__``, depth first, once."""
    seen: set[int] = set()
    out: list[BaseException] = []
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        out.append(current)
        for linked in (current.__context__, current.__cause__):
            if isinstance(linked, BaseException):
                stack.append(linked)
    return out


def _status_of(exc: BaseException) -> int | None:
    for name in ("status_code", "status"):
        value = getattr(exc, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` itself is the caller's fault.

    Pristine errors say so through ``category`` (4xx statuses except 408/429, server-reported
    user failures, validation errors); foreign exceptions count when they carry a 4xx
    ``status_code``/``status`` other than 408/429 or a ``category`` of ``"user"``.
    """
    if isinstance(exc, PristineError):
        return exc.category == USER
    status = _status_of(exc)
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return True
    return getattr(exc, "category", None) == USER


def find_user_error(exc: BaseException) -> BaseException | None:
    """The first user error in ``exc``'s cause/context chain (cycle-safe), or None."""
    for candidate in _chain(exc):
        if is_user_error(candidate):
            return candidate
    return None


def format_traceback(exc: BaseException) -> str:
    """The formatted traceback of ``exc`` with secrets redacted."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return redact(text[-20_000:])


def format_duration(seconds: float) -> str:
    """``H:MM:SS[.ffffff]``, the way ``datetime.timedelta`` prints."""
    return str(dt.timedelta(seconds=max(seconds, 0.0)))


class EventFactory:
    """Builds events with unique ids, a per-reporter index and timestamps from ``clock``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._index = itertools.count()
        self._lock = threading.Lock()

    def _base(self, kind: str, severity: str) -> dict[str, Any]:
        with self._lock:
            index = next(self._index)
        stamp = dt.datetime.fromtimestamp(self.clock.time(), tz=dt.timezone.utc).isoformat()
        return {
            "event": kind,
            "event_id": uuid.uuid4().hex,
            "event_session_index": index,
            "severity": severity_of(severity),
            "timestamp": stamp,
        }

    def generic(self, name: str, data: Any = None, severity: str = "INFO") -> dict[str, Any]:
        """A ``GENERIC_EVENT`` named ``name`` carrying ``data`` (sanitised into an object)."""
        event = self._base(GENERIC_EVENT, severity)
        payload = sanitize(data) if data is not None else {}
        event["event_name"] = str(name)
        event["event_data"] = payload if isinstance(payload, dict) else {"value": payload}
        return event

    def session_start(self) -> dict[str, Any]:
        """A ``SESSION_START`` event."""
        return self._base(SESSION_START, "INFO")

    def session_end(self, duration_s: float) -> dict[str, Any]:
        """A ``SESSION_END`` event with the session's ``duration``."""
        event = self._base(SESSION_END, "INFO")
        event["duration"] = format_duration(duration_s)
        return event

    def exception(self, exc: BaseException, severity: str = "ERROR") -> dict[str, Any]:
        """A ``user_error`` generic event (WARNING) when the chain holds a user error, else an
        ``UNHANDLED_EXCEPTION`` with type, message and traceback."""
        user = find_user_error(exc)
        if user is not None:
            return self.generic(USER_ERROR_EVENT, user_error_data(user), "WARNING")
        event = self._base(UNHANDLED_EXCEPTION, severity)
        event["error_type"] = type(exc).__name__
        event["error_message"] = redact(str(exc)[:_MAX_TEXT])
        event["traceback"] = format_traceback(exc)
        return event


def user_error_data(exc: BaseException) -> dict[str, Any]:
    """What a ``user_error`` event reports about ``exc``."""
    return {
        "error_type": type(exc).__name__,
        "message": redact(str(exc)[:_MAX_TEXT]),
        "status_code": _status_of(exc),
        "body": sanitize(getattr(exc, "body", None)),
    }
