"""The three limiters a pool is made of: a count semaphore, a byte budget and a token bucket.

All three are thread-safe. Count and byte waits block on a condition until another request
releases (they wait for an event, not for time); the token bucket computes how long its caller
must wait and leaves the waiting itself to the caller's clock, so tests can use a fake clock.

Deadlines. The blocking waits take ``remaining``: a function returning the seconds left of the
caller's deadline (on the caller's clock; None: wait without bound). A waiter re-reads it at
least every :data:`RECHECK_S` real seconds (and whenever woken) and gives up, returning False,
once it is zero or less, so a deadline on a fake clock is honoured as soon as the test moves the
clock past it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from pristine_core.errors import APIConnectionError
from pristine_runtime.clock import Clock

#: Float slack when comparing token counts (refills are computed with float arithmetic).
_EPSILON = 1e-9
#: The longest a deadline-bounded waiter sleeps (real seconds) before re-reading its deadline.
RECHECK_S = 0.05

#: Seconds left of a caller's deadline (see the module docstring).
Remaining = Callable[[], float]


def wait_step(cond: threading.Condition, remaining: Remaining | None) -> bool:
    """Wait on ``cond`` (held) once; False when ``remaining`` says the deadline has passed."""
    if remaining is None:
        cond.wait()
        return True
    left = remaining()
    if left <= 0:
        return False
    cond.wait(min(left, RECHECK_S))
    return True


class PoolFullError(APIConnectionError):
    """A pool declared ``block: false`` has no free capacity; the request was not sent.

    It subclasses :class:`~pristine_core.errors.APIConnectionError` because the request never
    produced an HTTP response, and like it, trying again later may succeed.
    """

    def __init__(self, pool: str, what: str) -> None:
        self.pool = pool
        self.what = what
        super().__init__(f"pool {pool!r} is full ({what}) and does not block")


class CountLimiter:
    """A counting semaphore whose limit may be ``None`` (then it only counts)."""

    def __init__(self, limit: int | None) -> None:
        #: The condition's own lock, taken directly on the fast paths (``with`` on a Condition
        #: goes through Python-level ``__enter__``/``__exit__``).
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._limit = limit
        self._in_flight = 0
        self._waiting = 0

    @property
    def limit(self) -> int | None:
        """The maximum number of holders, or None for no limit."""
        return self._limit

    @property
    def in_flight(self) -> int:
        """How many holders there are right now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """How many callers are blocked in :meth:`acquire` right now."""
        return self._waiting

    def try_acquire(self) -> bool:
        """Take a slot if one is free at once; return whether it was taken."""
        with self._lock:
            if self._limit is not None and self._in_flight >= self._limit:
                return False
            self._in_flight += 1
            return True

    def acquire(self, remaining: Remaining | None = None) -> bool:
        """Take a slot, blocking until one is free; False (nothing taken) once ``remaining`` is up."""
        with self._cond:
            self._waiting += 1
            try:
                while self._limit is not None and self._in_flight >= self._limit:
                    if not wait_step(self._cond, remaining):
                        return False
            finally:
                self._waiting -= 1
            self._in_flight += 1
            return True

    def release(self) -> None:
        """Give a slot back and wake one waiter (if any is waiting)."""
        with self._lock:
            self._in_flight -= 1
            if self._waiting:
                self._cond.notify()


class ByteBudget:
    """A byte semaphore that may be overdrawn: it blocks only while its balance is negative.

    A request is admitted whenever the balance is zero or more, even when its charge exceeds
    the balance, so a request larger than the whole budget is never starved; the bytes in flight
    therefore never exceed ``budget`` plus the largest single charge. Waiters are served in
    arrival order. A budget of ``None`` admits everything and only counts.
    """

    def __init__(self, budget: int | None) -> None:
        self._cond = threading.Condition()
        self._budget = budget
        self._balance = budget or 0
        self._charged = 0
        self._queue: deque[object] = deque()

    @property
    def budget(self) -> int | None:
        """The configured budget in bytes, or None."""
        return self._budget

    @property
    def in_flight(self) -> int:
        """Bytes charged by requests that have not released yet."""
        return self._charged

    @property
    def waiting(self) -> int:
        """How many requests are queued for bytes."""
        return len(self._queue)

    def _admissible(self) -> bool:
        return self._budget is None or (not self._queue and self._balance >= 0)

    def try_acquire(self, charge: int) -> bool:
        """Charge ``charge`` bytes if that is possible at once; return whether it was."""
        if charge == 0:
            return True  # always admitted, and charging nothing changes nothing
        with self._cond:
            if charge > 0 and not self._admissible():
                return False
            self._take(charge)
            return True

    def acquire(self, charge: int, remaining: Remaining | None = None) -> bool:
        """Charge ``charge`` bytes, waiting (first come, first served) while the balance is negative;
        False (nothing charged, the place in line given up) once ``remaining`` is up."""
        with self._cond:
            if charge <= 0 or self._admissible():
                self._take(charge)
                return True
            ticket = object()
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self._balance < 0:
                    if not wait_step(self._cond, remaining):
                        self._queue.remove(ticket)
                        self._cond.notify_all()
                        return False
            except BaseException:
                self._queue.remove(ticket)
                self._cond.notify_all()
                raise
            self._queue.popleft()
            self._take(charge)
            # The next waiter in line may fit as well (the balance can still be >= 0).
            self._cond.notify_all()
            return True

    def _take(self, charge: int) -> None:
        self._charged += charge
        if self._budget is not None:
            self._balance -= charge

    def release(self, charge: int) -> None:
        """Give ``charge`` bytes back and wake the waiters."""
        if charge == 0:
            return  # nothing changes, so no waiter could go on
        with self._cond:
            self._charged -= charge
            if self._budget is not None:
                self._balance += charge
            self._cond.notify_all()


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; starts full.

    :meth:`reserve` takes a token and returns how many seconds the caller must wait before it
    may use it. Tokens may be reserved ahead (the count goes negative), so concurrent callers
    queue up one ``1/rate`` apart without polling.
    """

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self._lock = threading.Lock()
        self._rate = float(rate)
        self._burst = float(max(burst, 1))
        self._clock = clock
        self._tokens = self._burst
        self._last = clock.monotonic()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now

    def try_take(self) -> bool:
        """Take a token if one is available now; return whether one was."""
        with self._lock:
            self._refill()
            if self._tokens >= 1 - _EPSILON:
                self._tokens -= 1
                return True
            return False

    def reserve(self) -> float:
        """Take a token (possibly ahead of time); return the seconds to wait before using it."""
        with self._lock:
            self._refill()
            self._tokens -= 1
            if self._tokens >= -_EPSILON:
                return 0.0
            return -self._tokens / self._rate

    def refund(self) -> None:
        """Give back a token taken by :meth:`reserve` that will not be used (its caller gave up)."""
        with self._lock:
            self._refill()
            self._tokens = min(self._burst, self._tokens + 1)

    @property
    def tokens(self) -> float:
        """Tokens available now (negative while callers wait for reserved tokens)."""
        with self._lock:
            self._refill()
            return self._tokens
