"""The metrics plugin against a real loopback server: exact counts and ordered percentiles."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from pristine_core import Client, RequestOptions
from pristine_core.errors import APIStatusError, ManifestError, ValidationError
from pristine_plugins.metrics import ALL, Histogram, MetricsSettings, Reporter, metrics_of
from pristine_plugins.metrics.registry import MetricsRegistry
from pristine_runtime.clock import FakeClock
from pristine_runtime.scheduler import Scheduler


def test_hundred_calls_give_exact_counts_and_ordered_percentiles(make_client: Callable[..., Client]) -> None:
    client = make_client()
    for i in range(90):
        client.things.get(id=str(i))
    for _ in range(10):
        with pytest.raises(APIStatusError):
            client.things.fail()
    snap = metrics_of(client).snapshot()
    total = snap.total
    assert total is not None
    assert (total.requests, total.successes, total.failures) == (100, 90, 10)
    get, fail = snap.endpoints["things.get"], snap.endpoints["things.fail"]
    assert (get.requests, get.successes, get.failures, get.statuses) == (90, 90, 0, {"200": 90})
    assert (fail.requests, fail.successes, fail.failures, fail.statuses) == (10, 0, 10, {"400": 10})
    lat = total.latency
    assert lat.count == 100 and sum(lat.buckets.values()) == 100
    assert lat.p50_ms is not None and lat.p95_ms is not None and lat.p99_ms is not None
    assert 0 < lat.p50_ms <= lat.p95_ms <= lat.p99_ms <= lat.max_ms  # type: ignore[operator]
    assert snap.as_dict()["endpoints"][ALL]["requests"] == 100  # type: ignore[index]


def test_latency_comes_from_the_client_clock(make_client: Callable[..., Client]) -> None:
    clock = FakeClock()
    client = make_client(clock=clock)
    client.things.get(id="1")  # the fake clock does not move: 0 ms
    stats = metrics_of(client).snapshot().endpoints["things.get"].latency
    assert (stats.count, stats.p50_ms, stats.p99_ms, stats.buckets["1"]) == (1, 0.0, 0.0, 1)


def test_connection_failures_count_as_failures(doc: Callable[..., dict[str, Any]]) -> None:
    from pristine_plugins.metrics import MetricsPlugin

    with Client(doc(), base_url="http://127.0.0.1:9", plugins=[MetricsPlugin()], autoload_plugins=False) as c:
        with pytest.raises(Exception):
            c.things.get(id="1")
        stats = metrics_of(c).snapshot().endpoints["things.get"]
    assert (stats.requests, stats.failures) == (1, 1)
    assert list(stats.statuses) == ["APIConnectionError"]


def test_percentiles_follow_the_documented_rules() -> None:
    hist = Histogram(max_samples=1000)
    for ms in range(1, 101):  # 1..100 ms
        hist.record(ms)
    stats = hist.stats()
    assert (stats.p50_ms, stats.p95_ms, stats.p99_ms) == (50.5, 95.0, 99.0)
    assert (stats.min_ms, stats.max_ms, stats.mean_ms) == (1.0, 100.0, 50.5)
    assert stats.buckets["1"] == 1 and stats.buckets["2"] == 1 and stats.buckets["100"] == 50


def test_window_bounds_the_samples_but_not_the_counts() -> None:
    hist = Histogram(max_samples=10)
    for ms in range(1000):
        hist.record(ms)
    stats = hist.stats()
    assert stats.count == 1000 and stats.p50_ms == 994.5  # the last ten: 990..999


def test_free_form_counters_gauges_histograms_and_reset() -> None:
    registry = MetricsRegistry()
    registry.increment("tokens", 5)
    registry.increment("tokens")
    registry.set_gauge("queue", 3)
    registry.record_histogram("step", 12)
    snap = registry.snapshot()
    assert snap.counters == {"tokens": 6} and snap.gauges == {"queue": 3}
    assert snap.histograms["step"].count == 1
    registry.reset()
    assert registry.snapshot().endpoints == {} and registry.snapshot().total is None


def test_ignored_endpoints_and_switch_off(
    make_client: Callable[..., Client], doc: Callable[..., dict[str, Any]]
) -> None:
    client = make_client(doc({"ignore_endpoints": ["things.get"]}))
    client.things.get(id="1")
    assert metrics_of(client).snapshot().endpoints == {}
    call = client.things.get.prepare(RequestOptions(), {"id": "1"})
    assert "metrics" in call.route.left_out("pristine_dispatch_middleware")  # the step is not even run
    off = make_client(config={"metrics": False})
    off.things.get(id="1")
    with pytest.raises(LookupError):
        metrics_of(off)


@pytest.mark.parametrize(
    ("block", "path"),
    [
        ({"buckets_ms": [5, 1]}, "features.metrics.buckets_ms"),
        ({"max_samples": 0}, "features.metrics.max_samples"),
        ({"report_interval_s": -1}, "features.metrics.report_interval_s"),
        ({"report_level": "loud"}, "features.metrics.report_level"),
        ({"colour": "red"}, "features.metrics.colour"),
    ],
)
def test_bad_manifest_blocks_name_their_path(
    block: dict[str, Any], path: str, doc: Callable[..., dict[str, Any]]
) -> None:
    from pristine_plugins.metrics import MetricsPlugin

    with pytest.raises(ManifestError) as info:
        Client(doc(block), plugins=[MetricsPlugin()], autoload_plugins=False)
    assert path in str(info.value)


def test_bad_client_config_names_its_path() -> None:
    with pytest.raises(ValidationError) as info:
        MetricsSettings.build({}, {"max_samples": "many"})
    assert "config.metrics.max_samples" in str(info.value)


class _TickClock(FakeClock):
    """A fake clock whose ``wait`` blocks until the test lets one period pass (no real sleeps)."""

    def __init__(self) -> None:
        super().__init__()
        self.ticks = threading.Semaphore(0)
        self.waiting = threading.Semaphore(0)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        self.waiting.release()
        while not event.is_set():
            if self.ticks.acquire(timeout=0.01):
                self.advance(seconds)
                return event.is_set()
        return True


def test_periodic_reporter_logs_a_summary_each_period() -> None:
    registry = MetricsRegistry()
    registry.record_call("things.get", ok=True, elapsed_ms=3)
    records: list[dict[str, object]] = []
    arrived = threading.Semaphore(0)

    def sink(record: dict[str, object]) -> None:
        records.append(record)
        arrived.release()

    clock = _TickClock()
    scheduler = Scheduler(clock, max_workers=0, name="t-metrics")
    reporter = Reporter(registry, clock=clock, lane=scheduler.lane("metrics", 1), interval_s=30, sink=sink)
    reporter.start()
    try:
        for expected in (1, 2):
            assert clock.waiting.acquire(timeout=5)  # the timer waits for the next period
            clock.ticks.release()  # one period passes: exactly one report (two records)
            assert arrived.acquire(timeout=5) and arrived.acquire(timeout=5)
            assert len(records) == 2 * expected
    finally:
        reporter.stop()
        assert scheduler.close(5) == []
    assert reporter.reports == 2 and not arrived.acquire(timeout=0.01)
    assert not any(t.name.startswith("t-metrics") for t in threading.enumerate())
    assert [r["endpoint"] for r in records] == ["*", "things.get", "*", "things.get"]
    assert records[1] == {
        "endpoint": "things.get", "requests": 1, "successes": 1, "failures": 0,
        "p50_ms": 3.0, "p95_ms": 3.0, "p99_ms": 3.0, "max_ms": 3.0,
    }


def test_reporter_runs_from_the_client_and_stops_at_close(
    make_client: Callable[..., Client], doc: Callable[..., dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    clock = _TickClock()
    client = make_client(doc({"report_interval_s": 60}), clock=clock)
    client.things.get(id="1")
    plugin = client.meta.plugin("metrics")
    assert plugin.reporter is not None
    caplog.set_level("INFO", logger="pristine_plugins.metrics.reporter")
    client.close()  # stops the thread and logs one last summary
    assert any("pristine.metrics.summary" in r.getMessage() and "things.get" in r.getMessage() for r in caplog.records)
    assert not any(t.name.startswith("pristine-metrics-reporter") for t in threading.enumerate())


def test_console_reporter_prints_one_line_per_endpoint(
    make_client: Callable[..., Client], doc: Callable[..., dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(doc({"report_interval_s": 3600, "report_to": "stderr"}), clock=_TickClock())
    client.things.get(id="1")
    client.close()  # the final summary
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("metrics * requests=1 ok=1 failed=0 p50=")
    assert lines[1].startswith("metrics things.get requests=1 ok=1 failed=0 p50=") and lines[1].endswith("ms")
