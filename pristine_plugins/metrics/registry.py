"""Thread-safe per-endpoint counters and latency histograms, plus free-form counters and gauges."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import attrs

from pristine_plugins.metrics.histogram import DEFAULT_BUCKETS_MS, Histogram, LatencyStats

#: The key under which all endpoints are aggregated in a snapshot.
ALL = "*"


@attrs.frozen
class EndpointStats:
    """Counters and latency of one endpoint (or of all of them under :data:`ALL`)."""

    requests: int
    successes: int
    failures: int
    statuses: dict[str, int]
    latency: LatencyStats

    def as_dict(self) -> dict[str, object]:
        """A JSON-able copy."""
        return attrs.asdict(self)


@attrs.frozen
class MetricsSnapshot:
    """Everything the registry knows at one moment (a copy: later calls do not change it)."""

    taken_at: float
    endpoints: dict[str, EndpointStats]
    counters: dict[str, float]
    gauges: dict[str, float]
    histograms: dict[str, LatencyStats]

    @property
    def total(self) -> EndpointStats | None:
        """All endpoints together (None before the first call)."""
        return self.endpoints.get(ALL)

    def as_dict(self) -> dict[str, object]:
        """A JSON-able copy."""
        return attrs.asdict(self)


class _Endpoint:
    def __init__(self, buckets_ms: Sequence[float], max_samples: int) -> None:
        self.requests = 0
        self.successes = 0
        self.failures = 0
        self.statuses: dict[str, int] = {}
        self.latency = Histogram(buckets_ms, max_samples)

    def stats(self) -> EndpointStats:
        return EndpointStats(self.requests, self.successes, self.failures, dict(self.statuses), self.latency.stats())


class MetricsRegistry:
    """Where the metrics plugin records each call; safe to use from any thread."""

    def __init__(self, buckets_ms: Sequence[float] = DEFAULT_BUCKETS_MS, max_samples: int = 1000) -> None:
        Histogram(buckets_ms, max_samples)  # validates the shape once, up front
        self._buckets_ms = tuple(buckets_ms)
        self._max_samples = max_samples
        self._lock = threading.Lock()
        self._endpoints: dict[str, _Endpoint] = {}
        self._counters: dict[str, float] = {}
        self._gauges: dict[str, float] = {}
        self._histograms: dict[str, Histogram] = {}

    def record_call(self, endpoint: str, *, ok: bool, elapsed_ms: float, status: int | str | None = None) -> None:
        """Count one finished call of ``endpoint`` (``status`` is the HTTP status or an error name)."""
        label = str(status) if status is not None else "none"
        with self._lock:
            for key in (endpoint, ALL):
                entry = self._endpoints.get(key)
                if entry is None:
                    entry = self._endpoints[key] = _Endpoint(self._buckets_ms, self._max_samples)
                entry.requests += 1
                if ok:
                    entry.successes += 1
                else:
                    entry.failures += 1
                entry.statuses[label] = entry.statuses.get(label, 0) + 1
                entry.latency.record(elapsed_ms)

    def increment(self, name: str, delta: float = 1) -> None:
        """Add ``delta`` to the free-form counter ``name``."""
        with self._lock:
            self._counters[name] = self._counters.get(name, 0) + delta

    def set_gauge(self, name: str, value: float) -> None:
        """Set the gauge ``name``."""
        with self._lock:
            self._gauges[name] = value

    def record_histogram(self, name: str, ms: float) -> None:
        """Add a sample to the free-form latency histogram ``name``."""
        with self._lock:
            hist = self._histograms.get(name)
            if hist is None:
                hist = self._histograms[name] = Histogram(self._buckets_ms, self._max_samples)
            hist.record(ms)

    def snapshot(self, taken_at: float = 0.0) -> MetricsSnapshot:
        """A consistent copy of every metric."""
        with self._lock:
            return MetricsSnapshot(
                taken_at=taken_at,
                endpoints={name: entry.stats() for name, entry in sorted(self._endpoints.items())},
                counters=dict(self._counters),
                gauges=dict(self._gauges),
                histograms={name: h.stats() for name, h in sorted(self._histograms.items())},
            )

    def reset(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._endpoints.clear()
            self._counters.clear()
            self._gauges.clear()
            self._histograms.clear()
