"""One heartbeat thread for every session of the process.

A :class:`HeartbeatScheduler` keeps a list of :class:`HeartbeatJob` objects (one per session)
and runs them on a single background thread, started when the first job is added and stopped
when the last one is removed. Each job carries the clock of its client, so due times follow
that clock: with a :class:`~pristine_runtime.clock.FakeClock` a test advances time and calls
:meth:`HeartbeatScheduler.run_pending` to fire exactly the beats that are due, without waiting.
The thread is a :class:`pristine_runtime.scheduler.Scheduler` on the real clock (a fake clock
would make it spin), re-armed for the earliest due beat and woken early whenever jobs change.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from pristine_core.logs import get_logger
from pristine_runtime.clock import SYSTEM_CLOCK, Clock
from pristine_runtime.handle import Handle
from pristine_runtime.scheduler import Scheduler, on_scheduler_thread

log = get_logger(__name__)

THREAD_NAME = "pristine-session-heartbeat"
_MIN_WAIT_S = 0.005
_MAX_WAIT_S = 60.0
#: Marks a thread running a beat, so that a job removed from inside a beat does not wait on itself.
_local = threading.local()


class HeartbeatJob:
    """One session's heartbeat: a ``beat`` callable run every ``interval_s`` on ``clock``.

    ``beat`` raises on failure; failures are counted and swallowed. When no beat has succeeded
    for ``warn_after_s`` a warning is logged once; the next success re-arms it. The first beat
    is due one interval after the job is created, which counts as the last success.
    """

    def __init__(
        self, name: str, beat: Callable[[], object], clock: Clock, interval_s: float, warn_after_s: float
    ) -> None:
        self.name = name
        self.beat = beat
        self.clock = clock
        self.interval_s = interval_s
        self.warn_after_s = warn_after_s
        now = clock.monotonic()
        self.next_due = now + interval_s
        self.last_success = now
        self.warned = False
        self.active = True
        self.beats = 0
        self.failures = 0
        self.last_error: str | None = None
        self.idle = threading.Event()
        self.idle.set()

    def remaining_s(self) -> float:
        """Seconds (on this job's clock) until the next beat is due; <= 0 when due."""
        return self.next_due - self.clock.monotonic()

    def __repr__(self) -> str:
        return f"<HeartbeatJob {self.name} beats={self.beats} failures={self.failures}>"


class HeartbeatScheduler:
    """Runs every registered :class:`HeartbeatJob` on one lazily started background thread.

    The thread is a :class:`pristine_runtime.scheduler.Scheduler` without workers (its timer runs
    the beats), created when the first job is added and closed when the last one is removed.
    """

    def __init__(self, thread_name: str = THREAD_NAME) -> None:
        self.thread_name = thread_name
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._jobs: list[HeartbeatJob] = []
        self._core: Scheduler | None = None
        self._tick: Handle | None = None

    # -- registration ---------------------------------------------------------------------

    def add(self, job: HeartbeatJob) -> None:
        """Register ``job`` and make sure the thread runs."""
        with self._lock:
            self._jobs.append(job)
            if self._core is None or self._core.closed:
                self._core = Scheduler(SYSTEM_CLOCK, max_workers=0, name=self.thread_name, log=log)
            self._schedule_locked(0.0)

    def remove(self, job: HeartbeatJob, timeout_s: float = 2.0) -> bool:
        """Unregister ``job``: no beat of it starts after this returns.

        Waits up to ``timeout_s`` for a beat of this job already in flight, and for the thread
        to exit when this was the last job. Returns False when either wait timed out.
        """
        with self._lock:
            job.active = False
            if job in self._jobs:
                self._jobs.remove(job)
            stopping = self._core if not self._jobs else None
            if stopping is not None:
                self._core = None
                self._tick = None
        inside = getattr(_local, "beating", False) or (stopping is not None and on_scheduler_thread(stopping))
        finished = True
        if not inside:  # a beat removing its own job must not wait for itself
            finished = job.idle.wait(timeout_s)
        if stopping is not None:
            finished = not stopping.close(timeout_s) and finished
        return finished

    @property
    def jobs(self) -> tuple[HeartbeatJob, ...]:
        """The registered jobs."""
        with self._lock:
            return tuple(self._jobs)

    @property
    def running(self) -> bool:
        """True while the background thread is alive."""
        with self._lock:
            core = self._core
        return core is not None and bool(core.live_threads())

    def reset_after_fork(self) -> None:
        """Forget the parent's jobs and thread in a forked child (they belong to the parent)."""
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._jobs = []
        self._core = None
        self._tick = None

    def wake(self) -> None:
        """Make the thread re-check due times now (after a clock jump, for instance)."""
        with self._lock:
            self._schedule_locked(0.0)

    def _schedule_locked(self, delay_s: float) -> None:
        """(Re)arm the next check ``delay_s`` real seconds from now (caller holds the lock)."""
        if self._core is None or not self._jobs:
            return
        if self._tick is not None:
            self._tick.cancel()
        self._tick = self._core.call_later(delay_s, self._check, name="heartbeat-check")

    def _check(self) -> None:
        try:
            self.run_pending()
            delay = self.next_delay_s()
        except Exception as exc:  # keep beating the other sessions
            log.warning("pristine.session.scheduler_error", error=f"{type(exc).__name__}: {exc}")
            delay = 1.0
        if delay is None:
            return
        with self._lock:
            self._schedule_locked(min(max(delay, _MIN_WAIT_S), _MAX_WAIT_S))

    # -- running --------------------------------------------------------------------------

    def run_pending(self) -> int:
        """Fire every due beat now, one after the other; return how many ran.

        Safe to call from any thread (tests call it after advancing a fake clock); the
        background thread calls it too, and a lock keeps a beat from running twice.
        """
        ran = 0
        with self._run_lock:
            for job in self.jobs:
                if job.remaining_s() > 0:
                    continue
                with self._lock:
                    if not job.active:
                        continue
                    job.idle.clear()
                _local.beating = True
                try:
                    self._beat(job)
                finally:
                    _local.beating = False
                    job.idle.set()
                ran += 1
        return ran

    def next_delay_s(self) -> float | None:
        """Seconds until the earliest due beat, or None without jobs."""
        jobs = self.jobs
        if not jobs:
            return None
        return min(job.remaining_s() for job in jobs)

    def _beat(self, job: HeartbeatJob) -> None:
        try:
            job.beat()
        except Exception as exc:  # a failed heartbeat must never crash anything
            job.failures += 1
            job.last_error = f"{type(exc).__name__}: {exc}"
            silent_s = job.clock.monotonic() - job.last_success
            if not job.warned and silent_s >= job.warn_after_s:
                job.warned = True
                log.warning(
                    "pristine.session.heartbeat_failing",
                    session=job.name,
                    seconds_since_success=round(silent_s, 3),
                    failures=job.failures,
                    last_error=job.last_error,
                    hint="the server may end the session if this persists",
                )
        else:
            job.beats += 1
            job.last_success = job.clock.monotonic()
            job.warned = False
            job.last_error = None
        finally:
            job.next_due = job.clock.monotonic() + job.interval_s


_DEFAULT = HeartbeatScheduler()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_DEFAULT.reset_after_fork)


def default_scheduler() -> HeartbeatScheduler:
    """The process-wide scheduler every session uses unless its client supplies its own."""
    return _DEFAULT
