"""A background job that logs a metrics summary every ``interval_s`` (by the client's clock).

It runs on a one-worker lane of the client's scheduler (:meth:`pristine_runtime.scheduler.Scheduler.lane`,
thread ``pristine-metrics-reporter-0``): the client's one timer heap says when, and a slow sink
never holds up another lane's work.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from pristine_core.logs import get_logger
from pristine_plugins.metrics.registry import MetricsRegistry, MetricsSnapshot
from pristine_runtime.clock import Clock
from pristine_runtime.lanes import Lane

log = get_logger(__name__)

THREAD_NAME = "pristine-metrics-reporter"


def summary_lines(snapshot: MetricsSnapshot) -> list[dict[str, object]]:
    """One log record per endpoint: counts and latency percentiles (ms, rounded to 0.1)."""

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    lines: list[dict[str, object]] = []
    for name, stats in snapshot.endpoints.items():
        lat = stats.latency
        lines.append(
            {
                "endpoint": name,
                "requests": stats.requests,
                "successes": stats.successes,
                "failures": stats.failures,
                "p50_ms": ms(lat.p50_ms),
                "p95_ms": ms(lat.p95_ms),
                "p99_ms": ms(lat.p99_ms),
                "max_ms": ms(lat.max_ms),
            }
        )
    return lines


def console_sink(stream: TextIO | None = None) -> Callable[[dict[str, object]], None]:
    """A sink printing one line per record: ``metrics <endpoint> requests=.. ok=.. failed=.. p50=..ms ...``."""

    def write(record: dict[str, object]) -> None:
        def ms(key: str) -> str:
            value = record.get(key)
            return "-" if value is None else f"{value}ms"

        line = (
            f"metrics {record['endpoint']} requests={record['requests']} ok={record['successes']} "
            f"failed={record['failures']} p50={ms('p50_ms')} p95={ms('p95_ms')} p99={ms('p99_ms')} "
            f"max={ms('max_ms')}"
        )
        print(line, file=stream or sys.stderr, flush=True)

    return write


class Reporter:
    """Log :func:`summary_lines` of ``registry`` every ``interval_s``; ``report()`` does it now.

    ``sink`` receives each record (default: the library logger at ``level``, event
    ``pristine.metrics.summary``). Reports run on ``lane`` (see
    :meth:`pristine_runtime.scheduler.Scheduler.lane`), which this reporter owns: :meth:`stop`
    closes it. Its scheduler's timer waits with ``clock.wait`` so tests drive it with an injected
    clock.
    """

    def __init__(
        self,
        registry: MetricsRegistry,
        *,
        clock: Clock,
        lane: Lane,
        interval_s: float,
        level: str = "info",
        sink: Callable[[dict[str, object]], None] | None = None,
    ) -> None:
        self._registry = registry
        self._clock = clock
        self._interval_s = interval_s
        self._sink = sink or (lambda record: getattr(log, level)("pristine.metrics.summary", **record))
        self._lane = lane
        self._started = False
        self.reports = 0

    def report(self) -> None:
        """Log one summary now (nothing when no call was recorded yet)."""
        snapshot = self._registry.snapshot(self._clock.time())
        for record in summary_lines(snapshot):
            try:
                self._sink(record)
            except Exception as exc:  # a broken sink must not kill the thread
                log.warning("pristine.metrics.sink_failed", error=f"{type(exc).__name__}: {exc}")
        self.reports += 1

    def start(self) -> None:
        """Start reporting every ``interval_s`` (idempotent)."""
        if self._started:
            return
        self._started = True
        self._arm()

    def _arm(self) -> None:
        self._lane.call_later(self._interval_s, self._tick, name="metrics-report")

    def _tick(self) -> None:
        self.report()
        self._arm()  # refused (None) once the lane is closed

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reporting: close the lane and wait for a report in progress (bounded)."""
        self._lane.close(timeout_s)
