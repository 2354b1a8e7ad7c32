"""The scheduler service: bounded worker threads plus one timer, measured on an injectable clock.

Every background job of Pristine and its plugins (polling futures, heartbeats, telemetry
batches, periodic domain jobs) runs here instead of on threads of its own:

* :meth:`Scheduler.submit` runs a task on a worker as soon as one is free;
* :meth:`Scheduler.call_later` runs it once ``delay_s`` seconds have passed on the clock;
* both return a :class:`Handle` whose :meth:`Handle.cancel` calls the task off;
* :meth:`Scheduler.close` drops pending work and joins every thread it started within a
  real-time bound, returning the threads still busy in a task (none, normally).

Threads start lazily: a scheduler nobody uses costs nothing. At most ``max_workers`` worker
threads run tasks; with ``max_workers=0`` tasks run on the timer thread itself (one thread in
all, named ``name``, right for short periodic jobs such as heartbeats).

Time. Due times are read on ``clock``; the timer thread waits with ``clock.wait``, so under a
:class:`~pristine_core.clock.FakeClock` delays elapse at once in fake time (a discrete-event
run: ``FakeClock.sleeps`` records each wait). With ``background=False`` no thread starts at all
and nothing runs until :meth:`Scheduler.run_due` is called: a test advances the fake clock and
calls it to run exactly the tasks that are due, in due order, on its own thread.

A client owns one scheduler (``client.meta.scheduler``), closed when the client closes.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pristine_core.clock import SYSTEM_CLOCK, Clock
from pristine_core.logs import get_logger

log = get_logger(__name__)

Task = Callable[[], Any]
_local = threading.local()
#: Guards every handle's state change (cancel against start); held only for a compare-and-set.
_state_lock = threading.Lock()
#: The heap is compacted (cancelled entries dropped) once it reaches this size, then twice its live size.
_MIN_COMPACT = 1024


class Handle:
    """One scheduled task; :meth:`cancel` keeps it from starting."""

    __slots__ = ("_state", "due", "fn", "name")

    def __init__(self, fn: Task, due: float, name: str = "") -> None:
        self.fn = fn
        self.due = due
        self.name = name
        self._state = "pending"

    def cancel(self) -> bool:
        """Do not run the task; False when it already started (or was cancelled)."""
        with _state_lock:
            if self._state != "pending":
                return False
            self._state = "cancelled"
            return True

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` took effect (or the scheduler closed before it ran)."""
        return self._state == "cancelled"

    @property
    def started(self) -> bool:
        """True once the task began to run."""
        return self._state in ("running", "done")

    def _claim(self) -> bool:
        with _state_lock:
            if self._state != "pending":
                return False
            self._state = "running"
            return True

    def __repr__(self) -> str:
        return f"<Handle {self.name or getattr(self.fn, '__name__', 'task')} {self._state} due={self.due:.3f}>"


def _on_event_loop() -> bool:
    """True on a thread running an asyncio event loop (none can run before asyncio is imported,
    so this module does not import it)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio._get_running_loop() is not None


def on_scheduler_thread(scheduler: Scheduler | None = None) -> bool:
    """True on a thread of ``scheduler`` (of any scheduler when None)."""
    owner = getattr(_local, "scheduler", None)
    return owner is not None and (scheduler is None or owner is scheduler)


class Scheduler:
    """Runs tasks now or later on at most ``max_workers`` threads; see the module docstring."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        max_workers: int = 4,
        name: str = "pristine",
        background: bool = True,
    ) -> None:
        if max_workers < 0:
            raise ValueError("max_workers must be >= 0")
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.max_workers = max_workers
        self.name = name
        self.background = background
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Handle]] = []
        self._ready: deque[Handle] = deque()
        self._seq = itertools.count()
        self._wake = threading.Event()
        self._timer: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._idle = 0
        self._spawns = 0
        self._compact_at = _MIN_COMPACT
        self._closed = False
        self.peak_workers = 0
        self.failed = 0

    # -- scheduling -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has started: new tasks are refused."""
        return self._closed

    def submit(self, fn: Task, *, name: str = "") -> Handle | None:
        """Run ``fn`` as soon as a worker is free; None when the scheduler is closed."""
        return self.call_later(0.0, fn, name=name)

    def call_later(self, delay_s: float, fn: Task, *, name: str = "") -> Handle | None:
        """Run ``fn`` once ``delay_s`` seconds have passed on the clock; None when closed."""
        delay = max(float(delay_s), 0.0)
        with self._cond:
            if self._closed:
                return None
            handle = Handle(fn, self.clock.monotonic() + delay, name)
            if delay == 0.0 and self.background and self.max_workers > 0:
                self._enqueue(handle)
                return handle
            heapq.heappush(self._heap, (handle.due, next(self._seq), handle))
            if len(self._heap) >= self._compact_at:
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._compact_at = max(_MIN_COMPACT, 2 * len(self._heap))
            if not self.background:
                return handle
            started = self._ensure_timer()  # a timer started now reads the heap by itself
            earliest = self._heap[0][2] is handle
        if earliest and not started:  # the timer sleeps until the earliest due time: wake it
            self._wake.set()
        return handle

    def _ensure_timer(self) -> bool:
        """Start the timer thread unless it runs (caller holds the lock); True when started now."""
        if self._timer is not None:
            return False
        timer_name = self.name if self.max_workers == 0 else f"{self.name}-timer"
        self._timer = threading.Thread(target=self._run_timer, name=timer_name, daemon=True)
        self._timer.start()
        return True

    def wake(self) -> None:
        """Make the timer re-read the clock now (after a test advanced a fake clock)."""
        self._wake.set()

    def pending(self) -> int:
        """Tasks waiting to start (timed and ready, cancelled ones excluded)."""
        with self._cond:
            timed = sum(1 for _, _, h in self._heap if not h.cancelled)
            return timed + sum(1 for h in self._ready if not h.cancelled)

    def next_due(self) -> float | None:
        """Clock time at which the earliest live timed task is due, or None."""
        with self._cond:
            while self._heap and self._heap[0][2].cancelled:
                heapq.heappop(self._heap)
            return self._heap[0][0] if self._heap else None

    def run_due(self) -> int:
        """Run, on this thread and in due order, every task due by now; return how many ran.

        Tasks those tasks schedule run too when already due. Meant for ``background=False``
        schedulers driven by a test or a loop; safe on any scheduler (each task runs once).
        """
        ran = 0
        while True:
            due = self._pop_due()
            if not due:
                return ran
            for handle in due:
                if self._execute(handle):
                    ran += 1

    # -- threads --------------------------------------------------------------------------

    def threads(self) -> list[threading.Thread]:
        """Every thread this scheduler started (alive or not)."""
        with self._cond:
            timer = [self._timer] if self._timer is not None else []
            return list(self._workers) + timer

    def live_threads(self) -> list[threading.Thread]:
        """The threads of this scheduler still alive."""
        return [t for t in self.threads() if t.is_alive()]

    def close(self, timeout_s: float = 5.0) -> list[threading.Thread]:
        """Refuse new tasks, drop pending ones, join every thread for at most ``timeout_s``.

        The bound is real time, even under a fake clock. Returns the threads still alive (a
        worker inside a long task; they are daemons and end when the task returns). A task
        that closes its own scheduler does not wait for itself.
        """
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._cond:
            self._closed = True
            for _, _, handle in self._heap:
                handle.cancel()
            for handle in self._ready:
                handle.cancel()
            self._heap.clear()
            self._ready.clear()
            self._cond.notify_all()
        self._wake.set()
        me = threading.current_thread()
        stragglers = []
        for thread in self.threads():
            if thread is me:
                continue
            thread.join(max(deadline - time.monotonic(), 0.0))
            if thread.is_alive():
                stragglers.append(thread)
        if stragglers:
            log.warning("pristine.scheduler.close_incomplete", scheduler=self.name, busy_threads=len(stragglers))
        return stragglers

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Scheduler {self.name} {state} workers={len(self._workers)}/{self.max_workers}>"

    # -- internals ------------------------------------------------------------------------

    def _enqueue(self, handle: Handle) -> None:
        """Queue ``handle`` for a worker (caller holds the lock); start a worker when needed.

        On an event-loop thread the new worker is started by the timer thread instead: starting
        a thread waits for it to run, which must not stall the loop.
        """
        self._ready.append(handle)
        if len(self._ready) > self._idle + self._spawns and len(self._workers) + self._spawns < self.max_workers:
            if _on_event_loop():
                self._spawns += 1
                self._ensure_timer()
                self._wake.set()
            else:
                self._spawn()
        else:
            self._cond.notify()

    def _spawn(self) -> None:
        """Start one worker (caller holds the lock)."""
        thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._workers)}", daemon=True)
        self._workers.append(thread)
        self.peak_workers = max(self.peak_workers, len(self._workers))
        thread.start()

    def _pop_due(self) -> list[Handle]:
        now = self.clock.monotonic()
        due = []
        with self._cond:
            while self._heap and self._heap[0][0] <= now:
                handle = heapq.heappop(self._heap)[2]
                if not handle.cancelled:
                    due.append(handle)
        return due

    def _execute(self, handle: Handle) -> bool:
        if not handle._claim():
            return False
        try:
            handle.fn()
        except Exception:  # a task bug must not kill the thread or the other tasks
            with self._cond:
                self.failed += 1
            log.exception("pristine.scheduler.task_failed", scheduler=self.name, task=repr(handle))
        finally:
            handle._state = "done"
        return True

    def _work(self) -> None:
        _local.scheduler = self
        while True:
            with self._cond:
                while not self._ready and not self._closed:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                if self._closed:
                    return
                handle = self._ready.popleft()
            self._execute(handle)

    def _run_timer(self) -> None:
        _local.scheduler = self
        while True:
            self._wake.clear()
            with self._cond:
                if self._closed:
                    return
                while self._spawns > 0:
                    self._spawns -= 1
                    if len(self._workers) < self.max_workers:
                        self._spawn()
            due = self._pop_due()
            for handle in due:
                if self.max_workers == 0:
                    self._execute(handle)
                else:
                    with self._cond:
                        if self._closed:
                            return
                        self._enqueue(handle)
            if due:
                continue
            next_due = self.next_due()
            if next_due is None:
                self._wake.wait()  # nothing scheduled: sleep until call_later or close
            else:
                self.clock.wait(self._wake, next_due - self.clock.monotonic())
