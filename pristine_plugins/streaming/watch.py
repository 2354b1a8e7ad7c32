"""The timers that bound an SSE stream, enforced by shutting its socket down.

Three limits, each optional (see the README's "Deadlines and idle streams"):

* ``first_by``: the first event must arrive by the call's deadline (an explicit ``timeout_s``);
* ``idle_s``: no connection may go longer than this without an event (comments and keep-alive
  lines do not count), measured from the last event or from (re)connecting;
* ``ends``: the whole stream, reconnects included, ends at this time (``max_duration_s``).

Times are real monotonic seconds (sockets run on real time). One timer at a time runs on the
client's watchdog (:attr:`pristine_core.client.ClientMeta.watchdog`), due at the earliest
limit; when it runs early (an event moved the idle limit on) it re-arms for the new due time, so
the reading loop only stores a timestamp per chunk that brought events. When a limit strikes the
socket is shut down, the blocked read returns, and the stream asks :attr:`StreamWatch.fired`
which limit it was.
"""

from __future__ import annotations

import socket
import threading
import time

from pristine_core.pipeline import Response
from pristine_core.scheduler import Handle, Scheduler

#: :attr:`StreamWatch.fired` values.
FIRST_EVENT = "first_event"
IDLE = "idle"
DURATION = "duration"


class StreamWatch:
    """The deadline, idle and duration limits of one stream (see the module docstring)."""

    def __init__(
        self,
        watchdog: Scheduler,
        *,
        first_by: float | None = None,
        idle_s: float | None = None,
        ends: float | None = None,
    ) -> None:
        self.watchdog = watchdog
        self.first_by = first_by
        self.idle_s = idle_s
        self.ends = ends
        self.fired: str | None = None
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._handle: Handle | None = None
        self._events = False
        self._last = time.monotonic()
        self._closed = False

    def attach(self, response: Response) -> None:
        """Watch the connection of ``response`` (the first one, or a reconnect's)."""
        from pristine_core.sockguard import socket_of  # imports urllib3: not when the plugin loads

        with self._lock:
            self._sock = socket_of(response)
            self._last = time.monotonic()
            if self.fired == IDLE:
                self.fired = None  # a fresh connection gets a fresh idle window
            self._arm()

    def saw_event(self) -> None:
        """An event arrived (called by the reading loop; a plain store, no lock)."""
        self._events = True
        self._last = time.monotonic()

    def wait_allowed(self, delay_s: float) -> str | None:
        """The limit that a reconnect wait of ``delay_s`` would cross (None: it fits)."""
        until = time.monotonic() + delay_s
        if self.ends is not None and until >= self.ends:
            return DURATION
        if not self._events and self.first_by is not None and until >= self.first_by:
            return FIRST_EVENT
        return None

    def close(self) -> None:
        """Stop watching (the stream ended or was closed)."""
        with self._lock:
            self._closed = True
            handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()

    def _due(self) -> float | None:
        candidates = []
        if self.ends is not None:
            candidates.append(self.ends)
        if not self._events and self.first_by is not None:
            candidates.append(self.first_by)
        if self.idle_s is not None:
            candidates.append(self._last + self.idle_s)
        return min(candidates) if candidates else None

    def _arm(self) -> None:
        """Schedule the check at the earliest limit (caller holds the lock)."""
        if self._closed or self._handle is not None or self.fired is not None:
            return
        due = self._due()
        if due is not None:
            self._handle = self.watchdog.call_later(max(due - time.monotonic(), 0.0), self._check, name="stream-watch")

    def _check(self) -> None:
        with self._lock:
            self._handle = None
            if self._closed:
                return
            now = time.monotonic()
            if self.ends is not None and now >= self.ends:
                self.fired = DURATION
            elif not self._events and self.first_by is not None and now >= self.first_by:
                self.fired = FIRST_EVENT
            elif self.idle_s is not None and now - self._last >= self.idle_s:
                self.fired = IDLE
            else:
                self._arm()  # an event moved the idle limit on
                return
            sock = self._sock
        if sock is not None:
            from pristine_core.sockguard import shutdown

            shutdown(sock)
