"""Back-pressure state shared by every client of one tenant: back-off deadline and throttle gate.

When a server answers a back-pressure status (429) the whole tenant slows down, not just the
client that saw it: every client of the process that talks to the same server with the same API
key (and the same pool and clock) shares one :class:`BackoffState`. Tenants are told apart by
the normalized base URL and a digest of the API key; the raw key is never stored. States live in
a weak registry, so they disappear with the last client that uses them.
"""

from __future__ import annotations

import math
import threading
import weakref

import attrs

from pristine_plugins.pool.limits import RECHECK_S, Remaining
from pristine_runtime.clock import Clock
from pristine_runtime.tenancy import Tenant


@attrs.frozen
class TenantKey:
    """Who shares back-off state: server, key digest, pool name and clock identity."""

    server: str
    key_digest: str
    pool: str
    clock_id: int


class BackoffState:
    """One tenant's back-off deadline, throttle window and in-flight count for one pool.

    ``backoff_until``: no request is sent before it. ``throttle_until``: until then new requests
    are admitted only while fewer than the reduced limit are in flight, tenant-wide. Times are
    on :attr:`clock`'s monotonic scale.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._backoff_until = -math.inf
        self._throttle_until = -math.inf
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Requests of this tenant and pool in flight on back-pressure endpoints."""
        return self._in_flight

    def backoff_remaining(self) -> float:
        """Seconds until requests may be sent again (0 when not backing off)."""
        return max(0.0, self._backoff_until - self.clock.monotonic())

    def throttled(self) -> bool:
        """Whether the throttle window (back-off plus ``window_s``) is still open."""
        return self.clock.monotonic() < self._throttle_until

    def wait_out_backoff(self, remaining: Remaining | None = None) -> float | None:
        """Sleep (through the clock) until the back-off deadline has passed; return seconds slept.

        With ``remaining`` (seconds left of the caller's deadline) it never starts a sleep that
        would end at or after that deadline, even when another client extends the back-off
        meanwhile: it returns None instead (having slept what it already slept).
        """
        slept = 0.0
        while True:
            backoff = self.backoff_remaining()
            if backoff <= 0:
                return slept
            if remaining is not None and backoff >= remaining():
                return None
            self.clock.sleep(backoff)
            slept += backoff

    def back_off(self, delay_s: float, window_s: float) -> None:
        """Hold every request for ``delay_s``, then throttle for ``window_s`` more (never shortens)."""
        with self._cond:
            now = self.clock.monotonic()
            self._backoff_until = max(self._backoff_until, now + max(delay_s, 0.0))
            self._throttle_until = max(self._throttle_until, self._backoff_until + max(window_s, 0.0))

    def try_enter(self, reduced_limit: int) -> bool:
        """Count a request in if the throttle allows it at once; return whether it did."""
        with self._cond:
            if self.throttled() and self._in_flight >= reduced_limit:
                return False
            self._in_flight += 1
            return True

    def enter(self, reduced_limit: int, remaining: Remaining | None = None) -> bool:
        """Count a request in, waiting while throttled and ``reduced_limit`` are in flight; False
        (not counted) once ``remaining`` (seconds left of the caller's deadline) is up."""
        with self._cond:
            # Re-check periodically: the window may close while nobody releases.
            while self.throttled() and self._in_flight >= reduced_limit:
                left = RECHECK_S if remaining is None else remaining()
                if left <= 0:
                    return False
                self._cond.wait(min(left, RECHECK_S))
            self._in_flight += 1
            return True

    def leave(self) -> None:
        """Count a request out and wake the waiters."""
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()


_registry_lock = threading.Lock()
_registry: weakref.WeakValueDictionary[TenantKey, BackoffState] = weakref.WeakValueDictionary()


def shared_state(tenant: Tenant, pool: str, clock: Clock) -> BackoffState:
    """The :class:`BackoffState` of this tenant and pool, created on first use.

    Clients share it when server, key, pool and clock object are the same; deadlines on
    different clocks could not be compared, so different clocks never share.
    """
    key = TenantKey(tenant.server, tenant.key_digest, pool, id(clock))
    with _registry_lock:
        state = _registry.get(key)
        # A state keeps its clock alive, so the clock id in the key cannot be reused meanwhile.
        if state is None or state.clock is not clock:
            state = BackoffState(clock)
            _registry[key] = state
        return state


def registry_keys() -> list[TenantKey]:
    """The tenant keys that have live back-off state (for tests and debugging)."""
    with _registry_lock:
        return list(_registry.keys())


def reset_registry() -> None:
    """Forget all shared back-off state (tests)."""
    with _registry_lock:
        _registry.clear()
