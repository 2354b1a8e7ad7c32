"""The scheduler: due order, cancellation, bounded workers, fake time, and no thread left after close."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

import pytest

from pristine_runtime.clock import FakeClock
from pristine_runtime.lanes import Lane
from pristine_runtime.scheduler import Scheduler, on_scheduler_thread


def assert_no_threads_left(scheduler: Scheduler) -> None:
    assert scheduler.live_threads() == []
    name = scheduler.name
    assert not [t for t in threading.enumerate() if t.name == name or t.name.startswith(name + "-")]


def test_run_due_runs_due_calls_in_order_and_honours_cancel() -> None:
    clock = FakeClock()
    scheduler = Scheduler(clock, background=False)
    ran: list[str] = []
    scheduler.call_later(10, lambda: ran.append("b"))
    scheduler.call_later(5, lambda: ran.append("a"))
    cancelled = scheduler.call_later(7, lambda: ran.append("x"))
    assert cancelled is not None and cancelled.cancel() and cancelled.cancelled
    assert not cancelled.cancel()  # once only
    assert scheduler.run_due() == 0 and ran == []
    assert scheduler.pending() == 2 and scheduler.next_due() == clock.monotonic() + 5
    clock.advance(10)
    assert scheduler.run_due() == 2
    assert ran == ["a", "b"] and scheduler.pending() == 0 and scheduler.next_due() is None
    assert scheduler.threads() == []  # background=False never starts a thread


def test_calls_scheduled_by_calls_run_when_already_due() -> None:
    clock = FakeClock()
    scheduler = Scheduler(clock, background=False)
    ran: list[int] = []
    scheduler.submit(lambda: (ran.append(1), scheduler.call_later(0, lambda: ran.append(2))))
    scheduler.call_later(0, lambda: scheduler.call_later(1, lambda: ran.append(3)))
    scheduler.run_due()
    assert ran == [1, 2]
    clock.advance(1)
    scheduler.run_due()
    assert ran == [1, 2, 3]


def test_a_failing_task_is_logged_and_the_rest_still_run(caplog: pytest.LogCaptureFixture) -> None:
    scheduler = Scheduler(FakeClock(), background=False)
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("boom")

    scheduler.submit(boom, name="boom")
    scheduler.submit(lambda: ran.append("after"))
    with caplog.at_level(logging.ERROR, logger="pristine_runtime.scheduler"):
        assert scheduler.run_due() == 2
    assert ran == ["after"] and scheduler.failed == 1
    (record,) = caplog.records
    assert record.getMessage().startswith("pristine.scheduler.task_failed scheduler='pristine' task='<Handle boom")
    assert record.exc_info is not None and "boom" in str(record.exc_info[1])


class RecordingLog:
    """An :class:`EventLog` that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any], BaseException | None]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.events.append(("warning", event, fields, None))

    def exception(self, event: str, **fields: Any) -> None:
        self.events.append(("exception", event, fields, sys.exc_info()[1]))


def test_events_go_to_the_log_it_is_given() -> None:
    log = RecordingLog()
    scheduler = Scheduler(FakeClock(), background=False, name="t-log", log=log)

    def boom() -> None:
        raise RuntimeError("boom")

    scheduler.submit(boom, name="boom")
    scheduler.run_due()
    ((level, event, fields, error),) = log.events
    assert (level, event, fields["scheduler"]) == ("exception", "pristine.scheduler.task_failed", "t-log")
    assert "boom" in fields["task"] and isinstance(error, RuntimeError)
    busy = Scheduler(max_workers=1, name="t-log-busy", log=log)
    gate, started = threading.Event(), threading.Event()
    busy.submit(lambda: (started.set(), gate.wait(5)))
    assert started.wait(5)
    assert len(busy.close(0.01)) == 1
    expected = {"scheduler": "t-log-busy", "busy_threads": 1}
    assert log.events[-1][:3] == ("warning", "pristine.scheduler.close_incomplete", expected)
    gate.set()
    for thread in busy.threads():
        thread.join(5)
    assert_no_threads_left(busy)


def test_delays_elapse_in_fake_time_on_the_timer_thread() -> None:
    clock = FakeClock()
    done = threading.Event()
    order: list[str] = []
    with Scheduler(clock, max_workers=2, name="t-fake") as scheduler:
        # Fake time jumps as soon as the timer waits, so calls are scheduled in due order here.
        scheduler.call_later(10, lambda: order.append("early"))
        scheduler.call_later(30, lambda: (order.append("late"), done.set()))
        assert done.wait(5)
        assert order == ["early", "late"]
        assert clock.monotonic() >= 1_030  # fake time moved; no real 30 s passed
    assert_no_threads_left(scheduler)


def test_workers_are_bounded_and_every_task_runs() -> None:
    gate = threading.Event()
    started = threading.Semaphore(0)
    count = 20
    finished: list[int] = []
    lock = threading.Lock()

    def task(i: int) -> None:
        started.release()
        gate.wait(5)
        with lock:
            finished.append(i)

    scheduler = Scheduler(FakeClock(), max_workers=3, name="t-bound")
    for i in range(count):
        scheduler.submit(lambda i=i: task(i))
    for _ in range(3):
        assert started.acquire(timeout=5)
    assert not started.acquire(timeout=0.05)  # a fourth task cannot start while three block
    assert len(scheduler.live_threads()) == 3 and scheduler.peak_workers == 3
    gate.set()
    for _ in range(count - 3):
        assert started.acquire(timeout=5)
    assert scheduler.close(5) == []
    assert sorted(finished) == list(range(count))
    assert_no_threads_left(scheduler)


def test_close_drops_pending_work_refuses_new_and_leaves_no_thread() -> None:
    scheduler = Scheduler(max_workers=1, name="t-close")  # real clock: the hour-long timer stays pending
    ran: list[str] = []
    blocker = threading.Event()
    entered = threading.Event()
    scheduler.submit(lambda: (entered.set(), blocker.wait(5)))
    assert entered.wait(5)
    queued = scheduler.submit(lambda: ran.append("queued"))
    timed = scheduler.call_later(3600, lambda: ran.append("timed"))
    closer = threading.Thread(target=scheduler.close, args=(5,))
    closer.start()
    while not scheduler.closed:  # release the busy worker only once close has dropped the queue
        time.sleep(0.001)
    blocker.set()
    closer.join(5)
    assert ran == [] and queued is not None and queued.cancelled and timed is not None and timed.cancelled
    assert scheduler.closed and scheduler.submit(lambda: None) is None and scheduler.call_later(1, lambda: None) is None
    assert_no_threads_left(scheduler)


def test_close_returns_a_busy_worker_within_the_bound() -> None:
    scheduler = Scheduler(max_workers=1, name="t-busy")
    release = threading.Event()
    entered = threading.Event()
    scheduler.submit(lambda: (entered.set(), release.wait(10)))
    assert entered.wait(5)
    stragglers = scheduler.close(0.05)
    assert len(stragglers) == 1
    release.set()
    stragglers[0].join(5)
    assert_no_threads_left(scheduler)


def test_timer_only_scheduler_runs_tasks_on_one_thread_and_may_close_itself() -> None:
    clock = FakeClock()
    scheduler = Scheduler(clock, max_workers=0, name="t-solo")
    seen: list[str] = []
    done = threading.Event()

    def close_from_inside() -> None:
        seen.append(threading.current_thread().name)
        assert on_scheduler_thread(scheduler)
        scheduler.close(1)  # must not join itself
        done.set()

    scheduler.submit(lambda: seen.append(threading.current_thread().name))
    scheduler.call_later(5, close_from_inside)
    assert done.wait(5)
    assert seen == ["t-solo", "t-solo"] and not on_scheduler_thread()
    scheduler.threads()[0].join(5)
    assert_no_threads_left(scheduler)


def test_workers_are_never_started_on_an_event_loop_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting a thread waits for it to run; on a loop thread the timer starts workers instead."""
    import asyncio

    starters: list[str] = []
    original = Scheduler._spawn

    def recording_spawn(self: Scheduler, lane: Lane) -> None:
        starters.append(threading.current_thread().name)
        original(self, lane)

    monkeypatch.setattr(Scheduler, "_spawn", recording_spawn)
    scheduler = Scheduler(max_workers=3, name="t-loop")
    gate = threading.Event()
    started = threading.Semaphore(0)

    async def main() -> None:
        for _ in range(3):
            scheduler.submit(lambda: (started.release(), gate.wait(5)))

    asyncio.run(main())
    for _ in range(3):
        assert started.acquire(timeout=5)  # all three ran at once: three workers
    gate.set()
    assert starters == ["t-loop-timer"] * 3
    assert scheduler.close(5) == []
    assert_no_threads_left(scheduler)


def test_cancelled_timers_do_not_pile_up() -> None:
    """A watchdog armed and called off per request must not grow the heap without bound."""
    scheduler = Scheduler(FakeClock(), background=False)
    for _ in range(10_000):
        handle = scheduler.call_later(3600, lambda: None)
        assert handle is not None and handle.cancel()
    assert len(scheduler._heap) < 2_048
    assert scheduler.pending() == 0 and scheduler.next_due() is None


def test_tasks_popped_as_due_when_the_scheduler_closes_are_marked_cancelled() -> None:
    """A close that lands between the timer taking due tasks off its heap and handing them to
    workers leaves none of them pending: each is marked cancelled and none runs."""
    clock = FakeClock()
    scheduler = Scheduler(clock, max_workers=1)
    ran: list[int] = []
    popped = threading.Event()
    scheduled = threading.Event()  # the timer pops nothing before all three are in (a fake clock's
    original = scheduler._pop_due  # wait advances time, so the first could fall due alone)

    def pop_then_close() -> list[Any]:
        assert scheduled.wait(5)
        due = original()
        if due:
            with scheduler._cond:
                scheduler._closed = True  # what close() does first, at the worst moment
            popped.set()
        return due

    scheduler._pop_due = pop_then_close  # type: ignore[method-assign]
    handles = [scheduler.call_later(1, lambda i=i: ran.append(i)) for i in range(3)]
    clock.advance(1)
    scheduled.set()
    assert popped.wait(5)
    scheduler.close()
    assert ran == []
    assert all(h is not None and h.cancelled for h in handles), [repr(h) for h in handles]
    assert_no_threads_left(scheduler)
