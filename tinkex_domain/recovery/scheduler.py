"""Injectable scheduling for recovery: ``call_later(delay_s, fn)`` and a tick-driven default.

Tinkex starts no threads. :class:`TickScheduler` keeps a heap of calls due on a clock and runs
the due ones when :meth:`TickScheduler.run_due` is called — from a training loop, a test (with
``pristine_core.clock.FakeClock``), or a background thread the application owns. Any object
with ``call_later(delay_s, fn) -> handle`` (``handle.cancel()``) can replace it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from pristine_core.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)


class Cancellable(Protocol):
    """A scheduled call that can be called off."""

    def cancel(self) -> None:
        """Do not run it (no effect once it ran)."""
        ...


class Scheduler(Protocol):
    """What the recovery monitor and executor schedule with."""

    def call_later(self, delay_s: float, fn: Callable[[], Any]) -> Cancellable:
        """Run ``fn()`` once ``delay_s`` seconds have passed."""
        ...


class ScheduledCall:
    """A handle on one call of a :class:`TickScheduler`."""

    __slots__ = ("cancelled", "due", "fn")

    def __init__(self, due: float, fn: Callable[[], Any]) -> None:
        self.due = due
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run it."""
        self.cancelled = True

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else f"due at {self.due:.3f}"
        return f"<ScheduledCall {state}>"


class TickScheduler:
    """Calls due on ``clock`` (monotonic), run by :meth:`run_due`; thread-safe."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SYSTEM_CLOCK
        self._heap: list[tuple[float, int, ScheduledCall]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def call_later(self, delay_s: float, fn: Callable[[], Any]) -> ScheduledCall:
        """Schedule ``fn()`` ``delay_s`` seconds from now."""
        call = ScheduledCall(self.clock.monotonic() + max(float(delay_s), 0.0), fn)
        with self._lock:
            heapq.heappush(self._heap, (call.due, next(self._seq), call))
        return call

    def next_due(self) -> float | None:
        """When the next live call is due (clock time), or None."""
        with self._lock:
            live = [due for due, _, call in self._heap if not call.cancelled]
        return min(live) if live else None

    def pending(self) -> int:
        """How many live calls wait."""
        with self._lock:
            return sum(1 for _, _, call in self._heap if not call.cancelled)

    def _pop_due(self) -> list[ScheduledCall]:
        now = self.clock.monotonic()
        due = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now:
                call = heapq.heappop(self._heap)[2]
                if not call.cancelled:
                    due.append(call)
        return due

    @staticmethod
    def _run(call: ScheduledCall) -> None:
        try:
            call.fn()
        except Exception:  # one bad callback must not starve the others
            log.exception("scheduled recovery call failed")

    def run_due(self) -> int:
        """Run every call due by now, in due order (calls they schedule too, if already due).

        A failing call is logged and the others still run. Returns how many ran.
        """
        ran = 0
        due = self._pop_due()
        while due:
            for call in due:
                if not call.cancelled:
                    self._run(call)
                    ran += 1
            due = self._pop_due()
        return ran
