"""Circuit breakers: fail fast while a backend keeps failing, probe it again after a while.

A breaker is *closed* (calls pass) until ``failure_threshold`` consecutive failures; then it is
*open* (calls are rejected at once with :class:`CircuitOpenError`) for ``reset_timeout_s``;
then *half-open*: up to ``half_open_max_calls`` trial calls pass, a successful trial closes it
and a failed one opens it again. Breakers are thread-safe and read time from an injected clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import attrs

from pristine_core.errors import SERVER, PristineError
from pristine_core.logs import get_logger
from pristine_plugins.retry.settings import CircuitBreakerSpec
from pristine_runtime.clock import SYSTEM_CLOCK, Clock

log = get_logger(__name__)

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

SUCCESS = "success"
FAILURE = "failure"
NEUTRAL = "neutral"

Listener = Callable[[str, str, str], None]
"""Called as ``listener(name, old_state, new_state)`` after each transition (outside the lock)."""


class CircuitOpenError(PristineError):
    """The named circuit breaker is open (or its half-open trials are taken): not sent.

    Not retryable: retrying at once would be rejected again. :attr:`retry_in_s` says when the
    breaker lets a trial call through.
    """

    retryable = False
    category = SERVER

    def __init__(self, name: str, retry_in_s: float) -> None:
        self.name = name
        self.retry_in_s = max(retry_in_s, 0.0)
        super().__init__(f"circuit breaker {name!r} is open; next trial in {self.retry_in_s:.1f}s")


@attrs.frozen
class Ticket:
    """Permission for one call; its outcome only counts while the breaker is in the same phase."""

    generation: int
    trial: bool


class CircuitBreaker:
    """One named breaker; see the module docstring for the state machine."""

    def __init__(
        self, name: str, spec: CircuitBreakerSpec, clock: Clock = SYSTEM_CLOCK, listener: Listener | None = None
    ) -> None:
        self.name = name
        self.spec = spec
        self._clock = clock
        self._listener = listener
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._trials = 0
        self._opened_at = 0.0
        self._generation = 0

    # -- state transitions (call with the lock held; return the transition to announce) --

    def _move(self, new: str) -> tuple[str, str]:
        old, self._state = self._state, new
        self._generation += 1
        self._failures = 0
        self._trials = 0
        if new == OPEN:
            self._opened_at = self._clock.monotonic()
        return old, new

    def _refresh(self) -> tuple[str, str] | None:
        if self._state == OPEN and self._clock.monotonic() - self._opened_at >= self.spec.reset_timeout_s:
            return self._move(HALF_OPEN)
        return None

    def _announce(self, changes: list[tuple[str, str] | None]) -> None:
        if self._listener is None:
            return
        for change in changes:
            if change is not None:
                try:
                    self._listener(self.name, *change)
                except Exception as exc:  # an observer must not break a call
                    log.warning("pristine.breaker_listener_failed", breaker=self.name, error=repr(exc))

    # -- public API ------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (an open breaker past its timeout is half-open)."""
        with self._lock:
            change = self._refresh()
            state = self._state
        self._announce([change])
        return state

    @property
    def failure_count(self) -> int:
        """Consecutive failures counted while closed."""
        with self._lock:
            return self._failures

    def acquire(self) -> Ticket:
        """Admit one call or raise :class:`CircuitOpenError`."""
        wait = 0.0
        with self._lock:
            change = self._refresh()
            if self._state == CLOSED:
                ticket: Ticket | None = Ticket(self._generation, trial=False)
            elif self._state == HALF_OPEN and self._trials < self.spec.half_open_max_calls:
                self._trials += 1
                ticket = Ticket(self._generation, trial=True)
            else:
                ticket = None
                if self._state == OPEN:
                    wait = self._opened_at + self.spec.reset_timeout_s - self._clock.monotonic()
        self._announce([change])
        if ticket is None:
            raise CircuitOpenError(self.name, wait)
        return ticket

    def record(self, ticket: Ticket, outcome: str) -> None:
        """Report how an admitted call went: ``success``, ``failure`` or ``neutral``."""
        changes: list[tuple[str, str] | None] = []
        with self._lock:
            changes.append(self._refresh())
            if ticket.generation != self._generation:
                pass  # admitted in an earlier phase: its outcome is stale
            elif self._state == CLOSED:
                if outcome == SUCCESS:
                    self._failures = 0
                elif outcome == FAILURE:
                    self._failures += 1
                    if self._failures >= self.spec.failure_threshold:
                        changes.append(self._move(OPEN))
            elif self._state == HALF_OPEN and ticket.trial:
                if outcome == SUCCESS:
                    changes.append(self._move(CLOSED))
                elif outcome == FAILURE:
                    changes.append(self._move(OPEN))
                else:
                    self._trials = max(self._trials - 1, 0)
        self._announce(changes)

    def call(self, fn: Callable[[], Any], is_failure: Callable[[Any], bool] = lambda _: False) -> Any:
        """Run ``fn`` through the breaker: exceptions and results for which ``is_failure`` holds
        count as failures."""
        ticket = self.acquire()
        try:
            result = fn()
        except BaseException:
            self.record(ticket, FAILURE)
            raise
        self.record(ticket, FAILURE if is_failure(result) else SUCCESS)
        return result

    def reset(self) -> None:
        """Force the breaker closed with no failures counted."""
        with self._lock:
            change = self._move(CLOSED) if self._state != CLOSED or self._failures else None
        self._announce([change])

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name} {self._state} failures={self._failures}>"


class BreakerRegistry:
    """Breakers by name, created on first use. Pass one instance to several clients
    (``config={"circuit_breaker_registry": registry}``) to share breaker state between them."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK, listener: Listener | None = None) -> None:
        self._clock = clock
        self._listener = listener
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str, spec: CircuitBreakerSpec | None = None) -> CircuitBreaker:
        """The breaker called ``name`` (created with ``spec`` the first time)."""
        breaker = self._breakers.get(name)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.get(name)
                if breaker is None:
                    breaker = CircuitBreaker(name, spec or CircuitBreakerSpec(), self._clock, self._listener)
                    self._breakers[name] = breaker
        return breaker

    def states(self) -> dict[str, str]:
        """``{name: state}`` of every breaker created so far."""
        with self._lock:
            breakers = list(self._breakers.values())
        return {b.name: b.state for b in breakers}

    def reset(self, name: str | None = None) -> None:
        """Close one breaker (or all of them)."""
        with self._lock:
            breakers = list(self._breakers.values())
        for breaker in breakers:
            if name is None or breaker.name == name:
                breaker.reset()
