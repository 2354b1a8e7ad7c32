"""Queue states reported while a future waits, observers, and the built-in rate-limited logger."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from pristine_core.logs import get_logger
from pristine_runtime.clock import SYSTEM_CLOCK, Clock

log = get_logger("pristine_plugins.futures")


class QueueState(str, enum.Enum):
    """Where the server says a request stands; compares equal to its wire string."""

    ACTIVE = "active"
    PAUSED_RATE_LIMIT = "paused_rate_limit"
    PAUSED_CAPACITY = "paused_capacity"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: Any) -> QueueState:
        """Trim and lower-case a wire value; anything unrecognised (or missing) is UNKNOWN."""
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                return cls.UNKNOWN
        return cls.UNKNOWN

    def __str__(self) -> str:
        return self.value


class QueueStateObserver(Protocol):
    """Anything with ``on_queue_state_change(state, reason)``; a plain callable works as well."""

    def on_queue_state_change(self, state: QueueState, reason: str | None) -> None:
        """Called from a worker thread when a future's queue state changes."""
        ...


def notify(observer: Any, state: QueueState, reason: str | None) -> None:
    """Call ``observer`` (object or callable); its exceptions are logged, never raised."""
    if observer is None:
        return
    target: Callable[[QueueState, str | None], Any] | None = getattr(observer, "on_queue_state_change", None)
    if target is None and callable(observer):
        target = observer
    if target is None:
        return
    try:
        target(state, reason)
    except Exception as exc:  # an observer must never break polling
        log.warning("pristine.futures.observer_failed", observer=repr(observer), error=f"{type(exc).__name__}: {exc}")


#: Reasons used when the server gives none (override per label in ``features.futures.queue_state_reasons``).
DEFAULT_REASONS: Mapping[str, str] = {
    QueueState.PAUSED_RATE_LIMIT.value: "concurrent rate limit hit",
    QueueState.PAUSED_CAPACITY.value: "backend is running short on capacity, please wait",
}


def _warn(text: str) -> None:
    """The default sink: a ``pristine.futures.queue_paused`` warning carrying the text."""
    log.warning("pristine.futures.queue_paused", message=text)


class QueueStateLogger:
    """An observer that logs ``"<label> is paused for <id>. Reason: <reason>"``.

    Nothing is logged for ``active``; at most one line per ``interval_s`` (60 s) per identifier,
    measured on the injected clock. ``reasons`` maps a state to the text used when the server
    gives no reason (else :data:`DEFAULT_REASONS`, else ``"unknown"``). ``sink`` receives the
    message (default: a ``pristine.futures.queue_paused`` warning, ``message=<text>``, on the
    ``pristine_plugins.futures`` logger of :mod:`pristine_core.logs`).
    """

    def __init__(
        self,
        label: str,
        identifier: str,
        *,
        clock: Clock | None = None,
        reasons: Mapping[str, str] | None = None,
        interval_s: float = 60.0,
        sink: Callable[[str], None] | None = None,
    ) -> None:
        self.label = label
        self.identifier = identifier
        self.clock = clock or SYSTEM_CLOCK
        self.reasons = {**DEFAULT_REASONS, **dict(reasons or {})}
        self.interval_s = interval_s
        self.sink = sink or _warn
        self._last_logged: float | None = None
        self._lock = threading.Lock()

    def reason_for(self, state: QueueState, reason: str | None) -> str:
        """The server's reason when non-blank, else the default for ``state``."""
        if reason and reason.strip():
            return reason.strip()
        return self.reasons.get(state.value, "unknown")

    def on_queue_state_change(self, state: QueueState, reason: str | None) -> None:
        """Log a paused state unless this identifier was logged less than ``interval_s`` ago."""
        if state is QueueState.ACTIVE:
            return
        now = self.clock.monotonic()
        with self._lock:
            if self._last_logged is not None and now - self._last_logged < self.interval_s:
                return
            self._last_logged = now
        self.sink(f"{self.label} is paused for {self.identifier}. Reason: {self.reason_for(state, reason)}")

    def __repr__(self) -> str:
        return f"<QueueStateLogger {self.label} {self.identifier}>"
