"""A session as the rest of the program sees it: its id and its per-session counters."""

from __future__ import annotations

import threading
from collections.abc import Iterable


class SessionHandle:
    """The server-issued ``session_id`` plus named counters, each starting at 0.

    :meth:`next_counter` is atomic: concurrent callers never get the same value twice.
    """

    __slots__ = ("_counters", "_lock", "session_id")

    def __init__(self, session_id: str, counters: Iterable[str] = ()) -> None:
        self.session_id = session_id
        self._counters: dict[str, int] = {name: 0 for name in counters}
        self._lock = threading.Lock()

    @property
    def counter_names(self) -> tuple[str, ...]:
        """The counters this session keeps, in declaration order."""
        return tuple(self._counters)

    def next_counter(self, name: str) -> int:
        """Allocate the next value of counter ``name`` (0, 1, 2, ...); ``KeyError`` if unknown."""
        with self._lock:
            try:
                value = self._counters[name]
            except KeyError:
                known = ", ".join(self._counters) or "none"
                raise KeyError(f"unknown session counter {name!r} (declared: {known})") from None
            self._counters[name] = value + 1
            return value

    def peek(self, name: str) -> int:
        """The value :meth:`next_counter` would return next, without allocating it."""
        with self._lock:
            return self._counters[name]

    def __repr__(self) -> str:
        return f"<SessionHandle {self.session_id!r} counters={self._counters!r}>"
