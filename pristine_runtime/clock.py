"""An injectable clock, so that waiting code can be tested without real sleeps."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What Pristine and its plugins use for time: never call ``time.sleep`` directly."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait for ``event`` at most ``seconds``; return whether it was set."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """Seconds on a monotonic scale."""
        return time.monotonic()

    def time(self) -> float:
        """Wall-clock seconds since the epoch."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds``."""
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait for ``event`` at most ``seconds``."""
        return event.wait(max(seconds, 0.0))


class FakeClock:
    """A manual clock for tests: ``sleep`` advances time at once and records the delay.

    ``wait`` on an event also advances time instead of blocking, unless the event is set.
    """

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Current fake time."""
        with self._lock:
            return self._now

    def time(self) -> float:
        """Current fake time (also used as wall-clock time)."""
        return self.monotonic()

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """Record the sleep and advance time by it."""
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(seconds, 0.0)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Return at once: True if ``event`` is set, else advance time by ``seconds``."""
        if event.is_set():
            return True
        self.sleep(seconds)
        return event.is_set()


SYSTEM_CLOCK = SystemClock()
