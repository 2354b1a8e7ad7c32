"""Pristine plugin ``metrics``: per-endpoint request counters and latency histograms.

Every call is timed once from outside the retry loop and counted as a success (status < 400) or
a failure (error status or exception). :func:`metrics_of` returns a client's
:class:`MetricsRegistry`; ``registry.snapshot()`` gives counts and p50/p95/p99 per endpoint and
for all endpoints together (key ``"*"``). A periodic log reporter is opt-in
(``report_interval_s``). See this plugin's README.
"""

from __future__ import annotations

from pristine_plugins.metrics.histogram import DEFAULT_BUCKETS_MS, Histogram, LatencyStats
from pristine_plugins.metrics.plugin import MetricsPlugin, metrics_of
from pristine_plugins.metrics.registry import ALL, EndpointStats, MetricsRegistry, MetricsSnapshot
from pristine_plugins.metrics.reporter import THREAD_NAME, Reporter, console_sink, summary_lines
from pristine_plugins.metrics.settings import MetricsSettings

__all__ = [
    "ALL",
    "DEFAULT_BUCKETS_MS",
    "THREAD_NAME",
    "EndpointStats",
    "Histogram",
    "LatencyStats",
    "MetricsPlugin",
    "MetricsRegistry",
    "MetricsSettings",
    "MetricsSnapshot",
    "Reporter",
    "console_sink",
    "metrics_of",
    "summary_lines",
]
