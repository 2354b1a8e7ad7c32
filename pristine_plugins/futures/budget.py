"""A byte budget for in-flight future results, shared per (base URL, API key).

Large results are fetched in two phases: the server first says how big the payload is, the
client reserves that many bytes, then fetches the payload. Reservations never block a thread:
when the budget is exhausted the caller parks a callback, run once bytes come back. A request
is granted while the budget is positive, even if it overdraws it, so one payload larger than
the whole budget still goes through (alone).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from pristine_runtime.tenancy import Tenant

Grant = Callable[[], None]


class ResponseBudget:
    """Bytes reserved by futures between the metadata reply and the parsed result."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._available = capacity
        self._lock = threading.Lock()
        self._waiting: deque[tuple[int, Grant, object]] = deque()

    @property
    def available(self) -> int:
        """Bytes left (negative while overdrawn)."""
        with self._lock:
            return self._available

    @property
    def in_use(self) -> int:
        """Bytes currently reserved."""
        with self._lock:
            return self.capacity - self._available

    @property
    def waiting(self) -> int:
        """Reservations parked until bytes are released."""
        with self._lock:
            return len(self._waiting)

    def reserve(self, size: int, on_grant: Grant, owner: object = None) -> bool:
        """Reserve ``size`` bytes now (True) or park ``on_grant`` to run when granted (False).

        ``owner`` tags the parked request so :meth:`discard` can drop it.
        """
        with self._lock:
            if self._available > 0 and not self._waiting:
                self._available -= size
                return True
            self._waiting.append((size, on_grant, owner))
            return False

    def release(self, size: int) -> None:
        """Return ``size`` bytes and grant parked reservations while the budget is positive."""
        granted: list[Grant] = []
        with self._lock:
            self._available += size
            while self._waiting and self._available > 0:
                wanted, on_grant, _ = self._waiting.popleft()
                self._available -= wanted
                granted.append(on_grant)
        for on_grant in granted:
            on_grant()

    def discard(self, owner: object) -> int:
        """Drop every parked reservation tagged ``owner``; return how many were dropped."""
        with self._lock:
            kept = deque(w for w in self._waiting if w[2] is not owner)
            dropped = len(self._waiting) - len(kept)
            self._waiting = kept
            return dropped


_registry: dict[tuple[str, str], ResponseBudget] = {}
_registry_lock = threading.Lock()


def shared_budget(tenant: Tenant, capacity: int) -> ResponseBudget:
    """The budget of this tenant (server + API key digest); the first caller's ``capacity`` wins."""
    key = (tenant.server, tenant.key_digest)
    with _registry_lock:
        budget = _registry.get(key)
        if budget is None:
            budget = _registry[key] = ResponseBudget(capacity)
        return budget
