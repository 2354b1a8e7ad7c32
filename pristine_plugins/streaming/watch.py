"""The timers that bound an SSE stream, enforced by shutting its socket down.

Three limits, each optional (see the README's "Deadlines and idle streams"):

* ``first_by``: the first event must arrive by the call's deadline (an explicit ``timeout_s``);
* ``idle_s``: no connection may go longer than this without an event (comments and keep-alive
  lines do not count), measured from the last event or from (re)connecting;
* ``ends``: the whole stream, reconnects included, ends at this time (``max_duration_s``).

Times are real monotonic seconds (sockets run on real time). One timer at a time runs on the
client's watchdog (:attr:`pristine_core.meta.ClientMeta.watchdog`), due at the earliest
limit; when it runs early (an event moved the idle limit on) it re-arms for the new due time, so
the reading loop only stores a timestamp per chunk that brought events. When a limit strikes the
socket is shut down, the blocked read returns, and the stream asks :attr:`StreamWatch.fired`
which limit it was.

A raw byte stream (:mod:`pristine_plugins.streaming.raw`) uses the same watch with "a chunk"
for "an event"; it holds the idle limit (:meth:`StreamWatch.hold`) while the caller holds a chunk, so
a slow consumer is not taken for a stalled server. :func:`watch_for` builds the watch of a call.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING

from pristine_core.pipeline import Call, Response
from pristine_runtime.handle import Handle
from pristine_runtime.scheduler import Scheduler

if TYPE_CHECKING:
    from pristine_plugins.streaming.settings import StreamingOptions, StreamingSettings

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
        self._held = False

    def attach(self, response: Response) -> None:
        """Watch the connection of ``response`` (the first one, or a reconnect's)."""
        from pristine_runtime.sockguard import socket_of  # imports urllib3: not when the plugin loads

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

    def hold(self) -> None:
        """The caller is busy with what was read: pause the idle limit (the others keep running)."""
        self._held = True

    def release(self) -> None:
        """The caller reads again: a fresh idle window starts now."""
        with self._lock:
            self._held = False
            self._last = time.monotonic()
            self._arm()

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
        if self.idle_s is not None and not self._held:
            candidates.append(self._last + self.idle_s)
        return min(candidates) if candidates else None

    def _arm(self) -> None:
        """Schedule the check at the earliest limit (caller holds the lock)."""
        if self._closed or self._handle is not None or self.fired is not None:
            return
        due = self._due()
        if due is not None:
            self._handle = self.watchdog.call_later(max(due - time.monotonic(), 0.0), self._check, name="stream-watch")

    def due_limit(self) -> str | None:
        """The limit that is due now (None: none), whether or not the timer has run yet: a socket
        read timeout racing the watchdog is then reported as the limit it stands for."""
        now = time.monotonic()
        if self.fired is not None:
            return self.fired
        if self.ends is not None and now >= self.ends:
            return DURATION
        if not self._events and self.first_by is not None and now >= self.first_by:
            return FIRST_EVENT
        if self.idle_s is not None and not self._held and now - self._last >= self.idle_s:
            return IDLE
        return None

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
            elif self.idle_s is not None and not self._held and now - self._last >= self.idle_s:
                self.fired = IDLE
            else:
                self._arm()  # an event moved the idle limit on
                return
            sock = self._sock
        if sock is not None:
            from pristine_runtime.sockguard import shutdown

            shutdown(sock)


def watch_for(
    call: Call, response: Response, settings: StreamingSettings, options: StreamingOptions
) -> StreamWatch | None:
    """The limits of a new stream, attached to ``response`` (None when it has none).

    With an explicit call deadline (``timeout_s``) the first event or byte must arrive by it, and
    the idle limit defaults to that ``timeout_s``; ``stream_idle_timeout_s``/``idle_timeout_s``
    and ``stream_max_duration_s``/``max_duration_s`` set the others.
    """
    request = response.request
    deadline = request.deadline if request is not None else None
    idle = options.stream_idle_timeout_s or settings.idle_timeout_s
    if idle is None and deadline is not None and request is not None:
        idle = request.timeout_s
    first_by = None
    if deadline is not None:
        first_by = time.monotonic() + (deadline - call.client.meta.clock.monotonic())
    duration = options.stream_max_duration_s or settings.max_duration_s
    ends = time.monotonic() + duration if duration is not None else None
    if idle is None and first_by is None and ends is None:
        return None
    watch = StreamWatch(call.client.meta.watchdog, first_by=first_by, idle_s=idle, ends=ends)
    watch.attach(response)
    return watch
