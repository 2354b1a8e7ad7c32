"""The reporter on its own: exact batches, the queue cap, failures, flush and close bounds."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from pristine_core import APIConnectionError, FakeClock
from pristine_plugins.telemetry import SESSION_END, SESSION_START, Telemetry
from pristine_runtime.clock import SYSTEM_CLOCK
from pristine_runtime.scheduler import Scheduler


class Recorder:
    """A sender that records batches, or fails as told."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.timeouts: list[float | None] = []
        self.error: Exception | None = None

    def __call__(self, events: list[dict[str, Any]], timeout_s: float | None) -> None:
        self.timeouts.append(timeout_s)
        if self.error is not None:
            raise self.error
        self.batches.append(list(events))


class Permanent(Exception):
    """A failure the same batch will never get past."""

    retryable = False


@pytest.fixture
def timer() -> Iterator[Scheduler]:
    """A real-clock timer for the reporters' lanes (a client's watchdog, in real use); closed after."""
    scheduler = Scheduler(SYSTEM_CLOCK, max_workers=0, name="t-telemetry")
    yield scheduler
    scheduler.close(5)
    assert scheduler.live_threads() == []


def reporter(timer: Scheduler, sender: Any, **kwargs: Any) -> Telemetry:
    kwargs.setdefault("clock", FakeClock())
    kwargs.setdefault("batch_size", 10)
    kwargs.setdefault("lane", timer.lane(f"telemetry-{len(timer.lanes())}", 1))
    return Telemetry(sender, **kwargs)


def test_batches_have_the_configured_size_and_keep_order(timer: Scheduler) -> None:
    sent = Recorder()
    telemetry = reporter(timer, sent)
    for i in range(25):
        assert telemetry.log("tick", {"i": i})
    assert telemetry.flush(wait=True, timeout=1)
    assert [len(b) for b in sent.batches] == [10, 10, 5]
    flat = [e for b in sent.batches for e in b]
    assert [e["event_data"]["i"] for e in flat] == list(range(25))
    assert [e["event_session_index"] for e in flat] == list(range(25))
    assert len({e["event_id"] for e in flat}) == 25
    assert telemetry.sent == 25 and telemetry.pending == 0


def test_queue_cap_drops_and_counts_and_warns_once_per_burst(timer: Scheduler) -> None:
    sent = Recorder()
    telemetry = reporter(timer, sent, queue_cap=5)
    with capture_logs() as logs:
        results = [telemetry.log("e", {"i": i}) for i in range(8)]
        assert results == [True] * 5 + [False] * 3
        assert telemetry.dropped == 3 and telemetry.pending == 5
        assert [e["event"] for e in logs] == ["pristine.telemetry.queue_full"]
        telemetry.flush(timeout=1)
        assert telemetry.log("again")
        for _ in range(6):
            telemetry.log("burst two")
        assert telemetry.dropped == 5
        assert [e["event"] for e in logs].count("pristine.telemetry.queue_full") == 2
    assert sum(len(b) for b in sent.batches) == 5


def test_transient_failure_requeues_and_permanent_failure_discards(timer: Scheduler) -> None:
    sent = Recorder()
    telemetry = reporter(timer, sent)
    for i in range(3):
        telemetry.log("e", {"i": i})
    sent.error = APIConnectionError("down")
    with capture_logs() as logs:
        assert not telemetry.flush(timeout=0.2)
        assert not telemetry.flush(timeout=0.2)
    assert telemetry.pending == 3, "a transient failure keeps the events"
    assert [e["event"] for e in logs] == ["pristine.telemetry.send_failed"], "warned once per failure streak"
    sent.error = None
    assert telemetry.flush(timeout=1)
    assert [e["event_data"]["i"] for e in sent.batches[0]] == [0, 1, 2]
    telemetry.log("doomed")
    sent.error = Permanent("bad shape")
    assert telemetry.flush(timeout=1), "a discarded batch is settled"
    assert telemetry.discarded == 1 and telemetry.pending == 0


def test_requeue_respects_the_cap(timer: Scheduler) -> None:
    telemetry: Telemetry

    def refill_then_fail(events: list[dict[str, Any]], timeout_s: float | None) -> None:
        for _ in range(5):  # others log while the batch is out: the queue fills up again
            telemetry.log("meanwhile")
        raise APIConnectionError("down")

    telemetry = reporter(timer, refill_then_fail, queue_cap=12)
    for i in range(12):
        telemetry.log("e", {"i": i})
    telemetry.flush(timeout=0.1)
    assert telemetry.pending == 12
    # 10 in flight + 2 left + 5 logged meanwhile = 17 > 12: five accepted events cannot go back.
    assert telemetry.discarded == 5 and telemetry.dropped == 0
    assert telemetry.accepted == 17


def test_session_events_and_duration_follow_the_injected_clock(timer: Scheduler) -> None:
    clock = FakeClock()
    sent = Recorder()
    telemetry = reporter(timer, sent, clock=clock, session_id="s-1", flush_interval_s=60)
    telemetry.start()
    try:
        clock.advance(65.5)
        telemetry.log("middle")
        assert telemetry.close(timeout=2)
    finally:
        telemetry.close(timeout=0)
    flat = [e for b in sent.batches for e in b]
    assert [e["event"] for e in flat] == [SESSION_START, "GENERIC_EVENT", SESSION_END]
    assert flat[-1]["duration"] == "0:01:05.500000"
    assert flat[0]["timestamp"].startswith("1970-01-01T00:16:40")  # FakeClock starts at 1000 s
    assert not telemetry.running


def test_full_batch_wakes_the_thread_without_a_flush_call(timer: Scheduler) -> None:
    arrived = threading.Event()
    sent = Recorder()

    def sender(events: list[dict[str, Any]], timeout_s: float | None) -> None:
        sent(events, timeout_s)
        arrived.set()

    telemetry = reporter(timer, sent, flush_interval_s=60)
    telemetry.sender = sender
    telemetry.start()
    try:
        for _ in range(10):
            telemetry.log("e")
        assert arrived.wait(5)
    finally:
        telemetry.close(timeout=1)
    assert sent.batches[0] and len(sent.batches[0]) <= 10


def test_close_with_a_hanging_sender_is_bounded(timer: Scheduler) -> None:
    release = threading.Event()

    def hang(events: list[dict[str, Any]], timeout_s: float | None) -> None:
        release.wait(10)

    telemetry = reporter(timer, hang, batch_size=1, flush_interval_s=60, flush_timeout_s=0.3)
    telemetry.start()
    telemetry.log("stuck")
    started = time.monotonic()
    assert telemetry.close() is False
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 0.3 + 1.5
    for thread in telemetry.threads():
        thread.join(5)
    assert not telemetry.running


def test_close_gives_up_at_the_first_failure_of_a_dead_sink(timer: Scheduler) -> None:
    sent = Recorder()
    sent.error = APIConnectionError("refused")
    telemetry = reporter(timer, sent, flush_interval_s=60, flush_timeout_s=5, retry_delay_s=0.05)
    telemetry.start()
    telemetry.log("lost")
    started = time.monotonic()
    assert telemetry.close() is False
    assert time.monotonic() - started < 2.5, "closing must not wait out flush_timeout_s for a dead sink"
    assert not telemetry.running
    assert not telemetry.log("after close")


def test_log_never_raises(timer: Scheduler) -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    telemetry = reporter(timer, Recorder())
    assert telemetry.log("odd", {"value": Hostile()}) is False
    assert telemetry.log_exception(ValueError("x")) is True


@pytest.mark.parametrize("severity,expected", [("warn", "WARNING"), ("debug", "DEBUG"), ("weird", "INFO")])
def test_severity_is_normalised(severity: str, expected: str, timer: Scheduler) -> None:
    sent = Recorder()
    telemetry = reporter(timer, sent)
    telemetry.log("e", severity=severity)
    telemetry.flush(timeout=1)
    assert sent.batches[0][0]["severity"] == expected
