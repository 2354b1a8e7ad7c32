"""Time sources for the emulator: the injectable clock, a manual clock for tests, formatting."""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Callable
from email.utils import formatdate

Clock = Callable[[], float]
"""Returns the current time in seconds since the epoch (``time.time`` by default)."""

SleepFn = Callable[[float], None]
"""Blocks for the given seconds (``time.sleep`` by default); used for injected latency."""


class ManualClock:
    """A clock that only moves when told to; thread-safe. Call it to read the time."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now


def iso_utc(ts: float) -> str:
    """ISO-8601 UTC timestamp with a ``Z`` suffix, e.g. ``2024-01-02T03:04:05.123456Z``."""
    moment = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def http_date(ts: float) -> str:
    """RFC 7231 HTTP date, as used in ``Expires`` headers."""
    return formatdate(ts, usegmt=True)
