"""The reporter: a bounded queue of events shipped in batches by one background thread.

Callers only ever append to the queue (never blocking, never raising). The thread (the one
worker of a lane the reporter is given, normally the ``telemetry`` lane of the client's real-clock
watchdog, :attr:`pristine_core.meta.ClientMeta.watchdog`; see
:meth:`pristine_runtime.scheduler.Scheduler.lane`) sends batches
of ``batch_size`` every ``flush_interval_s``, sooner when a batch is full or a flush is asked
for. A batch that fails transiently goes back to the front of the queue and is re-sent after
``retry_delay_s``; one the server rejects for good is discarded. While closing, the first
transient failure ends the final flush at once (a dead sink costs at most one request timeout,
itself capped by the remaining flush budget). Waits that bound the caller
(``flush(wait=True)``, ``close``) use real time: they promise the caller a wall-clock bound.
Event timestamps and the session duration come from the injected clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pristine_core.logs import get_logger
from pristine_plugins.telemetry.events import EventFactory
from pristine_runtime.clock import Clock
from pristine_runtime.handle import Handle
from pristine_runtime.lanes import Lane

log = get_logger(__name__)

#: ``send(events, timeout_s)`` delivers one batch or raises; ``retryable`` on the error says
#: whether the same batch may succeed later.
Sender = Callable[[list[dict[str, Any]], "float | None"], None]

THREAD_NAME = "pristine-telemetry"
REPORTED_FLAG = "__pristine_telemetry_reported__"
_local = threading.local()


def sending_now() -> bool:
    """True on a thread that is delivering a batch (its events must not become telemetry)."""
    return bool(getattr(_local, "sending", False))


class Telemetry:
    """Queue, batch and ship events; see the module docstring.

    ``session_id`` (optional) makes the reporter emit ``SESSION_START`` when started and
    ``SESSION_END`` when closed. All public methods swallow their own failures. ``lane`` runs the
    sends: a lane (at least one worker) of a scheduler on the real clock, owned by this reporter
    from then on (:meth:`close` closes it).
    """

    def __init__(
        self,
        sender: Sender,
        *,
        clock: Clock,
        lane: Lane,
        batch_size: int = 100,
        queue_cap: int = 10_000,
        flush_interval_s: float = 10.0,
        flush_timeout_s: float = 5.0,
        request_timeout_s: float | None = None,
        retry_delay_s: float = 1.0,
        session_id: str | None = None,
    ) -> None:
        self.sender = sender
        self.clock = clock
        self.batch_size = batch_size
        self.queue_cap = queue_cap
        self.flush_interval_s = flush_interval_s
        self.flush_timeout_s = flush_timeout_s
        self.request_timeout_s = request_timeout_s
        self.retry_delay_s = retry_delay_s
        self.session_id = session_id
        self.events = EventFactory(clock)
        self.accepted = 0
        self.sent = 0
        self.dropped = 0
        self.discarded = 0
        self.failed_sends = 0
        self._settled = 0
        self._queue: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._lane = lane
        self._started = False
        self._next: Handle | None = None
        self._kicked = False
        self._dropping = False
        self._failing = False
        self._closed = False
        self._ended = False
        self._deadline: float | None = None
        self._abandoned = False
        self._started_at = clock.monotonic()

    # -- public API -----------------------------------------------------------------------

    def start(self) -> None:
        """Queue ``SESSION_START`` (with a session) and start the background thread."""
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
        self._started_at = self.clock.monotonic()
        if self.session_id is not None:
            self._enqueue(self.events.session_start())
        self._arm(self.flush_interval_s)

    def log(self, name: str, data: Any = None, severity: str = "INFO") -> bool:
        """Queue a generic event; False when it was dropped (queue full, closed, or bad data)."""
        try:
            return self._enqueue(self.events.generic(name, data, severity))
        except Exception as exc:  # telemetry never breaks the caller
            log.debug("pristine.telemetry.log_failed", error=f"{type(exc).__name__}: {exc}")
            return False

    def log_exception(self, exc: BaseException, severity: str = "ERROR") -> bool:
        """Queue ``exc``: a ``user_error`` generic event for caller mistakes (searched through the
        cause/context chain), else an ``UNHANDLED_EXCEPTION`` with its traceback."""
        try:
            try:
                setattr(exc, REPORTED_FLAG, True)
            except (AttributeError, TypeError):
                pass
            return self._enqueue(self.events.exception(exc, severity))
        except Exception as err:
            log.debug("pristine.telemetry.log_failed", error=f"{type(err).__name__}: {err}")
            return False

    def log_fatal_exception(self, exc: BaseException, severity: str = "ERROR") -> bool:
        """Queue ``exc`` and ``SESSION_END``, then flush and wait (at most ``flush_timeout_s``)."""
        accepted = self.log_exception(exc, severity)
        self._end_session()
        self.flush(wait=True)
        return accepted

    def flush(self, wait: bool = True, timeout: float | None = None) -> bool:
        """Send what is queued now; with ``wait``, block until it left the queue or ``timeout``
        (default ``flush_timeout_s``) passed. Returns whether everything queued was settled."""
        try:
            limit = self.flush_timeout_s if timeout is None else max(timeout, 0.0)
            deadline = time.monotonic() + limit
            with self._lock:
                target = self.accepted
                running = self._started and not self._stop.is_set()
            if running:
                self._kick()
            elif self._send_lock.acquire(timeout=limit):
                try:
                    drained = self._drain(deadline)
                finally:
                    self._send_lock.release()
                if not drained:
                    return False  # nobody else will send: waiting would only cost the caller
            if not wait:
                return True
            with self._progress:
                while self._settled < target and not self._abandoned:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._progress.wait(remaining)
            return self._settled >= target
        except Exception as exc:
            log.debug("pristine.telemetry.flush_failed", error=f"{type(exc).__name__}: {exc}")
            return False

    def close(self, timeout: float | None = None) -> bool:
        """Queue ``SESSION_END``, flush (bounded by ``timeout``, default ``flush_timeout_s``) and stop
        the thread. Returns False when something could not be delivered or stopped in time."""
        limit = self.flush_timeout_s if timeout is None else max(timeout, 0.0)
        deadline = time.monotonic() + limit
        with self._lock:
            if self._closed:
                return True
            self._deadline = deadline
        self._end_session()
        delivered = self.flush(wait=True, timeout=limit)
        with self._lock:
            self._closed = True
            self._stop.set()
        stopped = not self._lane.close(max(deadline - time.monotonic(), 0.0))
        if not delivered or not stopped:
            log.info("pristine.telemetry.close_incomplete", unsent=self.pending, stopped=stopped)
        return delivered and stopped

    @property
    def pending(self) -> int:
        """Events waiting in the queue."""
        with self._lock:
            return len(self._queue)

    @property
    def running(self) -> bool:
        """True from :meth:`start` until :meth:`close` stopped the lane and its worker thread
        (which starts on the first send and ends with the lane)."""
        return (self._started and not self._lane.closed) or bool(self._lane.live_threads())

    def threads(self) -> list[threading.Thread]:
        """The threads this reporter's lane started (alive or not)."""
        return self._lane.threads()

    # -- internals ------------------------------------------------------------------------

    def _end_session(self) -> None:
        with self._lock:
            if self._ended or self.session_id is None:
                return
            self._ended = True
        self._enqueue(self.events.session_end(self.clock.monotonic() - self._started_at))

    def _enqueue(self, event: dict[str, Any]) -> bool:
        accepted = warn = False
        with self._lock:
            if self._closed:
                return False
            if len(self._queue) >= self.queue_cap:
                self.dropped += 1
                warn, self._dropping = not self._dropping, True
            else:
                self._queue.append(event)
                self.accepted += 1
                self._dropping = False
                accepted = True
            full_batch = len(self._queue) >= self.batch_size
        if warn:
            log.warning("pristine.telemetry.queue_full", queue_cap=self.queue_cap, dropped_total=self.dropped)
        if accepted and full_batch:
            self._kick()
        return accepted

    def _kick(self) -> None:
        """Send now, on the background thread."""
        with self._lock:
            self._kicked = True
        self._arm(0.0)

    def _arm(self, delay_s: float) -> None:
        """(Re)schedule the next send cycle ``delay_s`` seconds from now (at once after a kick)."""
        with self._lock:
            if not self._started or self._stop.is_set():
                return
            if self._kicked:
                delay_s = 0.0
            if self._next is not None:
                self._next.cancel()
            self._next = self._lane.call_later(delay_s, self._cycle, name="telemetry-send")

    def _cycle(self) -> None:
        with self._lock:
            self._kicked = False
        if self._stop.is_set():
            return
        with self._send_lock:
            ok = self._drain(None)
        if self._abandoned:
            return
        self._arm(self.flush_interval_s if ok else min(self.retry_delay_s, self.flush_interval_s))

    def _timeout(self, deadline: float | None) -> float | None:
        limits = [d for d in (deadline, self._deadline) if d is not None]
        if not limits:
            return self.request_timeout_s
        remaining = max(min(limits) - time.monotonic(), 0.01)
        return remaining if self.request_timeout_s is None else min(self.request_timeout_s, remaining)

    def _drain(self, deadline: float | None) -> bool:
        """Send batches until the queue is empty (True) or a send fails transiently (False)."""
        while True:
            with self._lock:
                count = min(self.batch_size, len(self._queue))
                batch = [self._queue.popleft() for _ in range(count)]
            if not batch:
                return True
            limit = self._timeout(deadline)
            try:
                _local.sending = True
                self.sender(batch, limit)
            except Exception as exc:
                self._failed(batch, exc)
                if getattr(exc, "retryable", False):
                    return False
            else:
                with self._progress:
                    self.sent += len(batch)
                    self._settled += len(batch)
                    self._failing = False
                    self._progress.notify_all()
            finally:
                _local.sending = False

    def _failed(self, batch: list[dict[str, Any]], exc: Exception) -> None:
        retryable = bool(getattr(exc, "retryable", False))
        with self._progress:
            self.failed_sends += 1
            first, self._failing = not self._failing, True
            if retryable:
                room = self.queue_cap - len(self._queue)
                keep = batch[-room:] if 0 < room < len(batch) else (batch if room > 0 else [])
                lost = len(batch) - len(keep)
                self._queue.extendleft(reversed(keep))
                # Accepted events that no longer fit are lost after acceptance: discarded, not dropped
                # (``dropped`` counts only events refused at the door, so accepted + dropped == logged).
                self.discarded += lost
            else:
                lost = len(batch)
                self.discarded += lost
            self._settled += lost
            if self._deadline is not None and retryable:
                # Closing: a sink that fails now will not recover within the flush budget.
                self._abandoned = True
            self._progress.notify_all()
        if first:
            log.warning(
                "pristine.telemetry.send_failed",
                error=f"{type(exc).__name__}: {exc}",
                will_retry=retryable,
                events=len(batch),
            )
