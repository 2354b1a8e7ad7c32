"""A latency histogram: fixed buckets for the shape, a bounded window of samples for percentiles."""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence

import attrs

#: Upper bounds (milliseconds) of the default buckets; one overflow bucket follows the last.
DEFAULT_BUCKETS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


@attrs.frozen
class LatencyStats:
    """A histogram at one moment: counts, extremes and percentiles, all in milliseconds.

    ``buckets`` maps each upper bound (``"+Inf"`` for the overflow) to the number of samples at
    or below it and above the previous bound (not cumulative). Percentiles use the retained
    window of samples: p50 is the median (mean of the middle pair for even counts), p95/p99 the
    nearest rank ``ceil(n * p / 100)``. They are ``None`` while no sample has been recorded.
    """

    count: int
    sum_ms: float
    mean_ms: float | None
    min_ms: float | None
    max_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    buckets: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        """A JSON-able copy."""
        return attrs.asdict(self)


def _nearest_rank(ordered: Sequence[float], percent: float) -> float:
    rank = max(1, math.ceil(len(ordered) * percent / 100))
    return ordered[rank - 1]


def _median(ordered: Sequence[float]) -> float:
    n = len(ordered)
    mid = n // 2
    if n % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


class Histogram:
    """Record latencies; not thread-safe on its own (the registry holds the lock)."""

    def __init__(self, buckets_ms: Sequence[float] = DEFAULT_BUCKETS_MS, max_samples: int = 1000) -> None:
        if list(buckets_ms) != sorted(set(buckets_ms)) or not buckets_ms:
            raise ValueError("buckets_ms must be a non-empty, strictly increasing sequence")
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        self._bounds = tuple(float(b) for b in buckets_ms)
        self._counts = [0] * (len(self._bounds) + 1)
        self._samples: deque[float] = deque(maxlen=max_samples)
        self.count = 0
        self.sum_ms = 0.0
        self.min_ms: float | None = None
        self.max_ms: float | None = None

    def record(self, ms: float) -> None:
        """Add one sample (negative values count as 0)."""
        ms = float(ms)
        if ms < 0.0:
            ms = 0.0
        self._counts[bisect.bisect_left(self._bounds, ms)] += 1
        self._samples.append(ms)
        self.count += 1
        self.sum_ms += ms
        if self.min_ms is None or ms < self.min_ms:
            self.min_ms = ms
        if self.max_ms is None or ms > self.max_ms:
            self.max_ms = ms

    def stats(self) -> LatencyStats:
        """The current :class:`LatencyStats`."""
        ordered = sorted(self._samples)
        labels = [_label(b) for b in self._bounds] + ["+Inf"]
        buckets = dict(zip(labels, self._counts, strict=True))
        if not ordered:
            return LatencyStats(0, 0.0, None, None, None, None, None, None, buckets)
        return LatencyStats(
            count=self.count,
            sum_ms=self.sum_ms,
            mean_ms=self.sum_ms / self.count,
            min_ms=self.min_ms,
            max_ms=self.max_ms,
            p50_ms=_median(ordered),
            p95_ms=_nearest_rank(ordered, 95),
            p99_ms=_nearest_rank(ordered, 99),
            buckets=buckets,
        )


def _label(bound: float) -> str:
    return str(int(bound)) if bound == int(bound) else str(bound)
