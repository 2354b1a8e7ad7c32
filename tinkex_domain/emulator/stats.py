"""Per-endpoint request/compute statistics and the telemetry sink."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

import attrs


@attrs.frozen
class EndpointStats:
    """Totals for one endpoint: requests seen, errors answered, model compute time, faults."""

    count: int = 0
    errors: int = 0
    compute_seconds: float = 0.0
    compute_count: int = 0
    faults: dict[str, int] = attrs.Factory(dict)


class StatsRecorder:
    """Thread-safe counters keyed by endpoint name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reset_locked()

    def _reset_locked(self) -> None:
        self._count: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._compute: defaultdict[str, float] = defaultdict(float)
        self._compute_n: Counter[str] = Counter()
        self._faults: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def reset(self) -> None:
        """Zero everything."""
        with self._lock:
            self._reset_locked()

    def request(self, endpoint: str) -> None:
        """Count one request."""
        with self._lock:
            self._count[endpoint] += 1

    def error(self, endpoint: str) -> None:
        """Count one error reply (status >= 400)."""
        with self._lock:
            self._errors[endpoint] += 1

    def fault(self, endpoint: str, kind: str) -> None:
        """Count one injected fault."""
        with self._lock:
            self._faults[endpoint][kind] += 1

    def compute(self, endpoint: str, seconds: float) -> None:
        """Add model compute time spent for ``endpoint``."""
        with self._lock:
            self._compute[endpoint] += seconds
            self._compute_n[endpoint] += 1

    def snapshot(self) -> dict[str, EndpointStats]:
        """A copy of all counters."""
        with self._lock:
            names = set(self._count) | set(self._compute) | set(self._faults)
            return {n: EndpointStats(self._count[n], self._errors[n], self._compute[n],
                                     self._compute_n[n], dict(self._faults[n]))
                    for n in sorted(names)}


class TelemetrySink:
    """Stores every telemetry batch posted to the emulator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches: list[dict[str, Any]] = []

    def add(self, batch: dict[str, Any]) -> None:
        """Keep one batch."""
        with self._lock:
            self._batches.append(batch)

    def batches(self) -> list[dict[str, Any]]:
        """All batches so far, oldest first."""
        with self._lock:
            return list(self._batches)
