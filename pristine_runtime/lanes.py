"""Worker lanes of a :class:`~pristine_runtime.scheduler.Scheduler`: isolation without owning threads.

A scheduler has one timer heap and one :meth:`~pristine_runtime.scheduler.Scheduler.close`, and its
tasks run on *lanes*: its default lane (``max_workers`` threads, what ``scheduler.submit`` uses)
and any number of named, bounded lanes made with :meth:`~pristine_runtime.scheduler.Scheduler.lane`.
A lane has its own workers and its own ready queue, so a lane full of blocked jobs (a futures
plugin's 45 s long polls, say) never delays a job of another lane or of the default one; its timed
tasks still wait in the scheduler's one heap, on the scheduler's one clock.

:class:`Lane` is what a plugin holds: the ``submit``/``call_later``/``closed`` surface of the
scheduler, plus :meth:`Lane.close` (stop this lane only, within a real-time bound) and thread
introspection. Closing the scheduler closes every lane.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

from pristine_runtime.clock import Clock

if TYPE_CHECKING:
    from pristine_runtime.handle import Handle, Task
    from pristine_runtime.scheduler import Scheduler

#: The name of a scheduler's own lane (sized by its ``max_workers``).
DEFAULT_LANE = "default"


def check_lane(name: object, workers: object) -> None:
    """Raise ``ValueError`` naming the lane when its name or size is not usable."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a lane name must be a non-empty string, got {name!r}")
    if name == DEFAULT_LANE:
        raise ValueError(f"lane {name!r} is the scheduler's own pool, sized by its max_workers")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"lane {name!r}: workers must be an integer >= 1, got {workers!r}")


class Lane:
    """A named, bounded set of worker threads of a scheduler (see the module docstring).

    Made by :meth:`Scheduler.lane <pristine_runtime.scheduler.Scheduler.lane>`; tasks submitted here
    run only on this lane's at most :attr:`max_workers` threads (started lazily). The underscored
    state (ready queue, workers, counts) belongs to the scheduler and is guarded by its lock.
    """

    __slots__ = (
        "_closed",
        "_cond",
        "_idle",
        "_peak",
        "_ready",
        "_spawns",
        "_thread_name",
        "_workers",
        "max_workers",
        "name",
        "scheduler",
    )

    def __init__(self, scheduler: Scheduler, name: str, max_workers: int, thread_name: str) -> None:
        self.scheduler = scheduler
        #: The lane's name, unique within its scheduler.
        self.name = name
        #: At most this many threads run the lane's tasks (0: the timer thread runs them).
        self.max_workers = max_workers
        self._thread_name = thread_name
        #: Workers of this lane wait on this condition, which shares the scheduler's lock.
        self._cond = threading.Condition(scheduler._lock)
        self._ready: deque[Handle] = deque()
        self._workers: list[threading.Thread] = []
        self._idle = 0
        self._spawns = 0
        self._peak = 0
        self._closed = False

    @property
    def clock(self) -> Clock:
        """The scheduler's clock, on which delays are measured."""
        return self.scheduler.clock

    @property
    def closed(self) -> bool:
        """True once this lane or its scheduler closed: new tasks are refused."""
        return self._closed or self.scheduler.closed

    @property
    def peak_workers(self) -> int:
        """The most worker threads this lane ever had at once."""
        return self._peak

    def submit(self, fn: Task, *, name: str = "") -> Handle | None:
        """Run ``fn`` on a worker of this lane as soon as one is free; None when closed."""
        return self.scheduler._schedule(self, 0.0, fn, name)

    def call_later(self, delay_s: float, fn: Task, *, name: str = "") -> Handle | None:
        """Run ``fn`` on this lane once ``delay_s`` seconds have passed on the clock; None when closed."""
        return self.scheduler._schedule(self, delay_s, fn, name)

    def pending(self) -> int:
        """This lane's tasks waiting to start (timed and ready, cancelled ones excluded)."""
        return self.scheduler._pending(self)

    def threads(self) -> list[threading.Thread]:
        """Every worker thread this lane started (alive or not)."""
        with self._cond:
            return list(self._workers)

    def live_threads(self) -> list[threading.Thread]:
        """This lane's worker threads still alive."""
        return [t for t in self.threads() if t.is_alive()]

    def close(self, timeout_s: float = 5.0) -> list[threading.Thread]:
        """Refuse new tasks here, drop this lane's pending ones, join its workers for at most
        ``timeout_s`` (real time); the threads still busy in a task. Other lanes, the default
        lane and the timer keep running."""
        return self.scheduler._close_lane(self, timeout_s)

    def _shut(self) -> None:
        """Refuse tasks, cancel the ready ones and wake every idle worker to exit (caller holds the lock)."""
        self._closed = True
        for handle in self._ready:
            handle.cancel()
        self._ready.clear()
        self._cond.notify_all()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Lane {self.scheduler.name}/{self.name} {state} workers={len(self._workers)}/{self.max_workers}>"
