"""Heartbeats: interval on an injected clock, no retries, one warning, one thread, clean stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from structlog.testing import capture_logs

from pristine_core import Client, FakeClock, SystemClock
from pristine_plugins.retry import RetryPlugin
from pristine_plugins.session import HeartbeatJob, HeartbeatScheduler, default_scheduler, session_of
from pristine_testing import SeenRequest

Threads = Callable[[], list[threading.Thread]]
Pings = Callable[[], list[SeenRequest]]
WARNING = "pristine.session.heartbeat_failing"


def _step(clock: FakeClock, seconds: float) -> int:
    clock.advance(seconds)
    return default_scheduler().run_pending()


def test_beats_follow_the_interval_on_the_injected_clock(
    make_client: Callable[..., Client], clock: FakeClock, pings: Pings
) -> None:
    client = make_client()
    sid = session_of(client).session_id
    _step(clock, 9.9)
    assert pings() == [], "the first beat is due one interval after start"
    _step(clock, 0.1)
    assert len(pings()) == 1
    _step(clock, 5)
    assert len(pings()) == 1
    _step(clock, 5)
    assert len(pings()) == 2
    assert [p.json() for p in pings()] == [{"session_ref": sid, "kind": "ping"}] * 2


def test_two_sessions_share_one_thread(
    make_client: Callable[..., Client], clock: FakeClock, pings: Pings, heartbeat_threads: Threads
) -> None:
    first, second = make_client(), make_client()
    assert len(heartbeat_threads()) == 1
    _step(clock, 10)
    assert sorted(p.json()["session_ref"] for p in pings()) == ["sess-1", "sess-2"]
    first.close()
    assert len(heartbeat_threads()) == 1
    _step(clock, 10)
    assert [p.json()["session_ref"] for p in pings()][2:] == ["sess-2"]
    second.close()
    assert heartbeat_threads() == []


def test_close_stops_the_heartbeat_and_the_thread(
    make_client: Callable[..., Client], clock: FakeClock, pings: Pings, heartbeat_threads: Threads
) -> None:
    client = make_client()
    assert len(heartbeat_threads()) == 1
    _step(clock, 10)
    client.close()
    assert heartbeat_threads() == []
    assert not default_scheduler().running
    _step(clock, 50)
    assert len(pings()) == 1


def test_failing_heartbeats_warn_exactly_once_then_rearm(
    make_client: Callable[..., Client], clock: FakeClock, api: Any, pings: Pings
) -> None:
    api.ping_status = 500
    make_client(plugins=[RetryPlugin()])
    with capture_logs() as logs:
        for _ in range(2):
            _step(clock, 10)  # 10 s and 20 s of silence: under warn_after_s (30)
        assert [e for e in logs if e["event"] == WARNING] == []
        for _ in range(5):
            _step(clock, 10)  # 30 s .. 70 s
        warnings = [e for e in logs if e["event"] == WARNING]
        assert len(warnings) == 1
        assert warnings[0]["log_level"] == "warning"
        assert warnings[0]["seconds_since_success"] == 30
        assert "500" in warnings[0]["last_error"]
        # Seven beats, seven requests: the "eager" retry policy of the endpoint is overridden.
        assert len(pings()) == 7
        api.ping_status = 200
        _step(clock, 10)
        api.ping_status = 503
        for _ in range(3):
            _step(clock, 10)
        assert len([e for e in logs if e["event"] == WARNING]) == 2, "a success re-arms the warning"


def test_a_hanging_server_costs_one_heartbeat_timeout(
    make_client: Callable[..., Client], clock: FakeClock, api: Any
) -> None:
    api.ping_delay.set()
    make_client()
    clock.advance(10)
    started = time.monotonic()
    default_scheduler().run_pending()
    elapsed = time.monotonic() - started
    api.release.set()
    job = default_scheduler().jobs[0]
    assert job.failures == 1 and "Timeout" in (job.last_error or "")
    assert elapsed < 3.0  # heartbeat_timeout_s is 0.5; generous bound for slow machines


def test_real_clock_beats_on_the_background_thread(
    make_client: Callable[..., Client], manifest: Callable[..., dict[str, Any]], pings: Pings,
    heartbeat_threads: Threads,
) -> None:
    client = make_client(manifest(interval_s=0.05), clock=SystemClock())
    deadline = time.monotonic() + 5
    while len(pings()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(pings()) >= 3
    client.close()
    assert heartbeat_threads() == []
    seen = len(pings())
    time.sleep(0.15)
    assert len(pings()) == seen, "no beat after close"


def test_private_scheduler_runs_jobs_without_a_client() -> None:
    clock = FakeClock()
    calls: list[str] = []
    scheduler = HeartbeatScheduler(thread_name="private-heartbeat")
    job = HeartbeatJob("j", lambda: calls.append("beat"), clock, interval_s=2, warn_after_s=10)
    scheduler.add(job)
    try:
        assert scheduler.running
        scheduler.run_pending()
        assert calls == []
        clock.advance(2)
        # The background thread may fire the due beat first; either way it fires exactly once.
        scheduler.run_pending()
        assert calls == ["beat"] and job.beats == 1
        assert scheduler.next_delay_s() == 2
    finally:
        assert scheduler.remove(job)
    assert not scheduler.running
    assert scheduler.next_delay_s() is None


def test_remove_waits_for_a_beat_in_flight() -> None:
    clock = FakeClock()
    entered, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def slow_beat() -> None:
        entered.set()
        release.wait(5)
        finished.append(True)

    scheduler = HeartbeatScheduler(thread_name="private-heartbeat")
    job = HeartbeatJob("slow", slow_beat, clock, interval_s=1, warn_after_s=10)
    scheduler.add(job)
    clock.advance(1)
    runner = threading.Thread(target=scheduler.run_pending)
    runner.start()
    assert entered.wait(5)
    threading.Timer(0.1, release.set).start()
    assert scheduler.remove(job, timeout_s=5)
    assert finished == [True], "remove returned while the beat was still running"
    runner.join(5)
    assert not scheduler.running
