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
:class:`~pristine_runtime.clock.FakeClock` delays elapse at once in fake time (a discrete-event
run: ``FakeClock.sleeps`` records each wait). With ``background=False`` no thread starts at all
and nothing runs until :meth:`Scheduler.run_due` is called: a test advances the fake clock and
calls it to run exactly the tasks that are due, in due order, on its own thread.

Lanes. :meth:`Scheduler.lane` adds a named, bounded set of worker threads (a
:class:`~pristine_runtime.lanes.Lane`, with the same ``submit``/``call_later``/``closed`` surface):
a plugin whose jobs block for long (long polls) gets isolation from every other job without
owning a thread or a timer of its own. All lanes share the one timer heap, clock and ``close``.

Logging. A failing task (``pristine.scheduler.task_failed``, with its traceback) and a close that
left busy threads (``pristine.scheduler.close_incomplete``) are reported to ``log``: any object with
structlog's call style (:class:`~pristine_runtime.eventlog.EventLog`). Without one they become
standard :mod:`logging` records under ``pristine_runtime.scheduler``; ``pristine-core`` passes its
library logger.

A client owns one scheduler (``client.meta.scheduler``), closed when the client closes.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import threading
import time

from pristine_runtime.clock import SYSTEM_CLOCK, Clock
from pristine_runtime.eventlog import EventLog, StdlibLog
from pristine_runtime.handle import Handle, Task
from pristine_runtime.lanes import DEFAULT_LANE, Lane, check_lane

_local = threading.local()
#: The heap is compacted (cancelled entries dropped) once it reaches this size, then twice its live size.
_MIN_COMPACT = 1024


def _on_event_loop() -> bool:
    """True on a thread running an asyncio event loop (none can run before asyncio is imported,
    so this module does not import it)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio._get_running_loop() is not None


def on_scheduler_thread(scheduler: Scheduler | Lane | None = None) -> bool:
    """True on a thread of ``scheduler`` (any of its lanes, or its timer), of that lane only
    when given a :class:`~pristine_runtime.lanes.Lane`, of any scheduler when None."""
    owner = getattr(_local, "scheduler", None)
    if owner is None or scheduler is None:
        return owner is not None
    if isinstance(scheduler, Lane):
        return getattr(_local, "lane", None) is scheduler
    return owner is scheduler


class Scheduler:
    """Runs tasks now or later on at most ``max_workers`` threads (plus those of its lanes); see
    the module docstring."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        max_workers: int = 4,
        name: str = "pristine",
        background: bool = True,
        log: EventLog | None = None,
    ) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 0:
            raise ValueError(f"max_workers must be an integer >= 0, got {max_workers!r}")
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.max_workers = max_workers
        self.name = name
        self.background = background
        self.log: EventLog = log if log is not None else StdlibLog()
        self._lock = threading.Lock()
        self._default = Lane(self, DEFAULT_LANE, max_workers, name)
        self._cond = self._default._cond  # the scheduler's lock, as a condition of the default lane
        self._lanes: dict[str, Lane] = {}
        self._heap: list[tuple[float, int, Handle]] = []
        self._seq = itertools.count()
        self._wake = threading.Event()
        self._timer: threading.Thread | None = None
        self._compact_at = _MIN_COMPACT
        self._closed = False
        self.failed = 0

    # -- scheduling -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has started: new tasks are refused."""
        return self._closed

    @property
    def peak_workers(self) -> int:
        """The most worker threads the default lane ever had at once (other lanes count their own)."""
        return self._default.peak_workers

    def lane(self, name: str, workers: int, *, thread_name: str | None = None) -> Lane:
        """The lane ``name`` with at most ``workers`` threads of its own, made on first use.

        Asking again for the same name returns the same lane; a different size is an error, as are
        an empty name, the reserved name ``"default"`` and a size below 1 (``ValueError`` naming
        the lane). Its threads are named ``thread_name-<n>`` (default ``<scheduler name>-<lane>``).
        A lane asked of a closed scheduler is closed: it refuses tasks.
        """
        check_lane(name, workers)
        with self._cond:
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = Lane(self, name, workers, thread_name or f"{self.name}-{name}")
                lane._closed = self._closed
            elif lane.max_workers != workers:
                raise ValueError(f"lane {name!r} already has {lane.max_workers} workers, not {workers}")
            return lane

    def lanes(self) -> list[Lane]:
        """Every lane made so far, in creation order."""
        with self._cond:
            return list(self._lanes.values())

    def submit(self, fn: Task, *, name: str = "") -> Handle | None:
        """Run ``fn`` as soon as a worker is free; None when the scheduler is closed."""
        return self._schedule(self._default, 0.0, fn, name)

    def call_later(self, delay_s: float, fn: Task, *, name: str = "") -> Handle | None:
        """Run ``fn`` once ``delay_s`` seconds have passed on the clock; None when closed."""
        return self._schedule(self._default, delay_s, fn, name)

    def _schedule(self, lane: Lane, delay_s: float, fn: Task, name: str) -> Handle | None:
        """Queue ``fn`` for ``lane`` now or after ``delay_s``; None when it or the scheduler is closed."""
        delay = max(float(delay_s), 0.0)
        with self._cond:
            if lane.closed:
                return None
            handle = Handle(fn, self.clock.monotonic() + delay, lane, name)
            if delay == 0.0 and self.background and lane.max_workers > 0:
                self._enqueue(lane, handle)
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
        """Tasks waiting to start, in every lane (timed and ready, cancelled ones excluded)."""
        return self._pending(None)

    def _pending(self, lane: Lane | None) -> int:
        """Live waiting tasks of ``lane`` (of every lane when None)."""
        with self._cond:
            lanes = [lane] if lane is not None else self._all_lanes()
            timed = sum(1 for _, _, h in self._heap if not h.cancelled and (lane is None or h.lane is lane))
            return timed + sum(1 for each in lanes for h in each._ready if not h.cancelled)

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
        """Every thread this scheduler started, its lanes' included (alive or not)."""
        with self._cond:
            timer = [self._timer] if self._timer is not None else []
            return [t for lane in self._all_lanes() for t in lane._workers] + timer

    def live_threads(self) -> list[threading.Thread]:
        """The threads of this scheduler still alive."""
        return [t for t in self.threads() if t.is_alive()]

    def close(self, timeout_s: float = 5.0) -> list[threading.Thread]:
        """Refuse new tasks, drop pending ones, join every thread (every lane's) for at most ``timeout_s``.

        The bound is real time, even under a fake clock. Returns the threads still alive (a
        worker inside a long task; they are daemons and end when the task returns). A task
        that closes its own scheduler does not wait for itself. A lane its owner closed before
        (:meth:`Lane.close`, which had its own bound) is not waited for again.
        """
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._cond:
            self._closed = True
            for _, _, handle in self._heap:
                handle.cancel()
            self._heap.clear()
            open_lanes = [lane for lane in self._all_lanes() if not lane._closed]
            waited = [t for lane in open_lanes for t in lane._workers]
            waited += [self._timer] if self._timer is not None else []
            for lane in open_lanes:
                lane._shut()
        self._wake.set()
        return self._join(waited, deadline)

    def _close_lane(self, lane: Lane, timeout_s: float) -> list[threading.Thread]:
        """Close one lane: cancel its ready and timed tasks, join its workers (see :meth:`Lane.close`)."""
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._cond:
            lane._shut()
            for _, _, handle in self._heap:  # cancelled entries leave the heap as the timer pops them
                if handle.lane is lane:
                    handle.cancel()
            workers = list(lane._workers)
        return self._join(workers, deadline)

    def _join(self, threads: list[threading.Thread], deadline: float) -> list[threading.Thread]:
        me = threading.current_thread()
        stragglers = []
        for thread in threads:
            if thread is me:
                continue
            thread.join(max(deadline - time.monotonic(), 0.0))
            if thread.is_alive():
                stragglers.append(thread)
        if stragglers:
            self.log.warning("pristine.scheduler.close_incomplete", scheduler=self.name, busy_threads=len(stragglers))
        return stragglers

    def __enter__(self) -> Scheduler:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        lanes = f" lanes={len(self._lanes)}" if self._lanes else ""
        return f"<Scheduler {self.name} {state} workers={len(self._default._workers)}/{self.max_workers}{lanes}>"

    # -- internals ------------------------------------------------------------------------

    def _all_lanes(self) -> list[Lane]:
        """The default lane and every named one (caller holds the lock)."""
        return [self._default, *self._lanes.values()]

    def _enqueue(self, lane: Lane, handle: Handle) -> None:
        """Queue ``handle`` for a worker of ``lane`` (caller holds the lock); start one when needed.

        On an event-loop thread the new worker is started by the timer thread instead: starting
        a thread waits for it to run, which must not stall the loop.
        """
        lane._ready.append(handle)
        if len(lane._ready) > lane._idle + lane._spawns and len(lane._workers) + lane._spawns < lane.max_workers:
            if _on_event_loop():
                lane._spawns += 1
                self._ensure_timer()
                self._wake.set()
            else:
                self._spawn(lane)
        else:
            lane._cond.notify()

    def _spawn(self, lane: Lane) -> None:
        """Start one worker of ``lane`` (caller holds the lock)."""
        thread_name = f"{lane._thread_name}-{len(lane._workers)}"
        thread = threading.Thread(target=self._work, args=(lane,), name=thread_name, daemon=True)
        lane._workers.append(thread)
        lane._peak = max(lane._peak, len(lane._workers))
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
            self.log.exception("pristine.scheduler.task_failed", scheduler=self.name, task=repr(handle))
        finally:
            handle._state = "done"
        return True

    def _work(self, lane: Lane) -> None:
        _local.scheduler = self
        _local.lane = lane
        while True:
            with self._cond:
                while not lane._ready and not lane._closed:
                    lane._idle += 1
                    lane._cond.wait()
                    lane._idle -= 1
                if lane._closed:
                    return
                handle = lane._ready.popleft()
            self._execute(handle)

    def _run_timer(self) -> None:
        _local.scheduler = self
        _local.lane = None
        while True:
            self._wake.clear()
            with self._cond:
                if self._closed:
                    return
                for lane in self._all_lanes():
                    while lane._spawns > 0:
                        lane._spawns -= 1
                        if len(lane._workers) < lane.max_workers and not lane._closed:
                            self._spawn(lane)
            due = self._pop_due()
            for index, handle in enumerate(due):
                lane = handle.lane
                if lane.max_workers == 0:
                    self._execute(handle)
                else:
                    with self._cond:
                        if self._closed:  # closed with tasks just popped as due: they never run
                            for dropped in due[index:]:
                                dropped.cancel()
                            return
                        if lane._closed:  # its lane closed while the task was due: it never runs
                            handle.cancel()
                        else:
                            self._enqueue(lane, handle)
            if due:
                continue
            next_due = self.next_due()
            if next_due is None:
                self._wake.wait()  # nothing scheduled: sleep until call_later or close
            else:
                self.clock.wait(self._wake, next_due - self.clock.monotonic())
