"""One bounded worker pool per client, plus one timer thread for delayed work.

A poll task runs one retrieve call and then re-schedules itself: at once (back into the pool
queue) or after a delay (into the timer's heap). So a worker is busy only while a call is in
flight, and thousands of futures share ``max_workers`` threads. Delays are measured on the
client's injectable clock. All threads are daemons and are joined, with a deadline, on close.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from pristine_core.clock import Clock

log = logging.getLogger("pristine_plugins.futures")

Task = Callable[[], None]


class WorkerPool:
    """At most ``max_workers`` daemon threads, started lazily, running tasks in FIFO order."""

    def __init__(self, max_workers: int, name: str = "pristine-futures") -> None:
        self.max_workers = max_workers
        self.name = name
        self._queue: deque[Task] = deque()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._closing = False
        self.peak_threads = 0

    def submit(self, task: Task) -> bool:
        """Queue ``task``; False when the pool is closing (the task is dropped)."""
        with self._cond:
            if self._closing:
                return False
            self._queue.append(task)
            if len(self._queue) > self._idle and len(self._threads) < self.max_workers:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                self.peak_threads = max(self.peak_threads, len(self._threads))
                thread.start()
            else:
                self._cond.notify()
            return True

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._idle += 1
                    self._cond.wait()
                    self._idle -= 1
                if self._closing:
                    return
                task = self._queue.popleft()
            try:
                task()
            except Exception:  # a task bug must not kill the worker
                log.exception("futures worker task failed")

    @property
    def threads(self) -> list[threading.Thread]:
        """The worker threads started so far (alive or not)."""
        with self._cond:
            return list(self._threads)

    def close(self, deadline: float, clock_now: Callable[[], float]) -> list[threading.Thread]:
        """Drop queued tasks, wake idle workers, join them until ``deadline``; return stragglers."""
        with self._cond:
            self._closing = True
            self._queue.clear()
            self._cond.notify_all()
            threads = list(self._threads)
        for thread in threads:
            if thread is threading.current_thread():
                continue
            thread.join(max(deadline - clock_now(), 0.0))
        return [t for t in threads if t.is_alive() and t is not threading.current_thread()]


class Scheduler:
    """Runs tasks on a :class:`WorkerPool` now or after a delay measured on ``clock``."""

    def __init__(self, max_workers: int, clock: Clock, name: str = "pristine-futures") -> None:
        self.pool = WorkerPool(max_workers, name)
        self.clock = clock
        self.name = name
        self._heap: list[tuple[float, int, Task]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._timer: threading.Thread | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has started."""
        return self._closed

    def submit(self, task: Task) -> bool:
        """Run ``task`` on the pool as soon as a worker is free."""
        return not self._closed and self.pool.submit(task)

    def submit_later(self, delay_s: float, task: Task) -> bool:
        """Run ``task`` on the pool once ``delay_s`` seconds have passed on the clock."""
        if delay_s <= 0:
            return self.submit(task)
        with self._lock:
            if self._closed:
                return False
            heapq.heappush(self._heap, (self.clock.monotonic() + delay_s, next(self._seq), task))
            if self._timer is None:
                self._timer = threading.Thread(target=self._run_timer, name=f"{self.name}-timer", daemon=True)
                self._timer.start()
        self._wake.set()
        return True

    def _run_timer(self) -> None:
        while True:
            self._wake.clear()
            with self._lock:
                if self._closed:
                    return
                now = self.clock.monotonic()
                ready = []
                while self._heap and self._heap[0][0] <= now:
                    ready.append(heapq.heappop(self._heap)[2])
                next_due = self._heap[0][0] if self._heap else None
            for task in ready:
                self.pool.submit(task)
            if ready:
                continue
            if next_due is None:
                self._wake.wait()  # nothing scheduled: sleep until submit_later or close
            else:
                self.clock.wait(self._wake, next_due - now)

    def threads(self) -> list[threading.Thread]:
        """Every thread this scheduler started (workers and timer)."""
        timer = [self._timer] if self._timer is not None else []
        return self.pool.threads + timer

    def close(self, timeout_s: float) -> list[threading.Thread]:
        """Stop the timer and the pool, joining threads for at most ``timeout_s`` (real time).

        Returns the threads still alive (a worker blocked in a long-poll call); they are daemons
        and exit when their call returns.
        """
        # Real time bounds the join, even under a fake clock.
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._closed = True
            self._heap.clear()
            timer = self._timer
        self._wake.set()
        stragglers = self.pool.close(deadline, time.monotonic)
        if timer is not None and timer is not threading.current_thread():
            timer.join(max(deadline - time.monotonic(), 0.0))
            if timer.is_alive():
                stragglers.append(timer)
        return stragglers
