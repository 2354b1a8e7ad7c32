"""Worker lanes of the scheduler: isolation, sizes, one close for every lane, clear errors."""

from __future__ import annotations

import threading

import pytest

from pristine_runtime.clock import FakeClock
from pristine_runtime.scheduler import Scheduler, on_scheduler_thread


def named(prefix: str) -> list[threading.Thread]:
    """Live threads whose name starts with ``prefix``."""
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def blockers(count: int, gate: threading.Event, started: threading.Semaphore) -> list[object]:
    """``count`` tasks that signal ``started`` then wait (at most 5 s) for ``gate``."""
    return [lambda: (started.release(), gate.wait(5)) for _ in range(count)]


def test_a_full_lane_does_not_delay_other_lanes_or_the_default_pool() -> None:
    clock = FakeClock()
    scheduler = Scheduler(clock, max_workers=1, name="t-iso")
    slow = scheduler.lane("slow", 2)
    fast = scheduler.lane("fast", 1)
    gate, started = threading.Event(), threading.Semaphore(0)
    try:
        for task in blockers(5, gate, started):  # two run and block, three queue behind them
            slow.submit(task)
        assert started.acquire(timeout=5) and started.acquire(timeout=5)
        ran = {name: threading.Event() for name in ("default", "fast-now", "fast-later")}
        scheduler.submit(ran["default"].set)
        fast.submit(ran["fast-now"].set)
        before = clock.monotonic()
        fast.call_later(30, ran["fast-later"].set)  # on the shared timer heap, in fake time
        assert all(event.wait(5) for event in ran.values())
        assert clock.monotonic() - before >= 30  # fake time moved; no real 30 s passed
        assert slow.pending() == 3 and not started.acquire(timeout=0.02)  # the slow lane is still full
    finally:
        gate.set()
        assert scheduler.close(5) == []
    assert named("t-iso") == []


def test_a_full_default_pool_does_not_delay_a_lane() -> None:
    scheduler = Scheduler(FakeClock(), max_workers=1, name="t-def")
    gate, started = threading.Event(), threading.Semaphore(0)
    try:
        for task in blockers(3, gate, started):
            scheduler.submit(task)
        assert started.acquire(timeout=5)
        done = threading.Event()
        lane = scheduler.lane("own", 1)
        lane.submit(lambda: done.set() if on_scheduler_thread(lane) else None)
        assert done.wait(5)
    finally:
        gate.set()
        assert scheduler.close(5) == []
    assert named("t-def") == []


def test_lane_sizes_are_honoured_and_threads_named() -> None:
    scheduler = Scheduler(FakeClock(), max_workers=2, name="t-size")
    lane = scheduler.lane("polls", 3, thread_name="t-size-polls")
    gate, started = threading.Event(), threading.Semaphore(0)
    finished: list[int] = []
    for i, task in enumerate(blockers(10, gate, started)):
        lane.submit(lambda task=task, i=i: (task(), finished.append(i)))
    for _ in range(3):
        assert started.acquire(timeout=5)
    assert not started.acquire(timeout=0.05)  # a fourth cannot start while three block
    assert len(lane.live_threads()) == 3 and lane.peak_workers == 3
    assert sorted(t.name for t in lane.threads()) == ["t-size-polls-0", "t-size-polls-1", "t-size-polls-2"]
    assert scheduler.live_threads() and scheduler.peak_workers == 0  # the default pool never started
    gate.set()
    for _ in range(7):
        assert started.acquire(timeout=5)
    assert scheduler.close(5) == []
    assert sorted(finished) == list(range(10))
    assert named("t-size") == []


def test_close_stops_every_lanes_threads_and_cancels_their_work() -> None:
    scheduler = Scheduler(max_workers=2, name="t-all")  # real clock: the hour-long timers stay pending
    lanes = [scheduler.lane("a", 2), scheduler.lane("b", 3)]
    ran = threading.Semaphore(0)
    for runner in (scheduler, *lanes):
        for _ in range(3):
            runner.submit(ran.release)
    for _ in range(9):
        assert ran.acquire(timeout=5)
    late = [runner.call_later(3600, ran.release) for runner in (scheduler, *lanes)]
    assert scheduler.pending() == 3 and [lane.pending() for lane in lanes] == [1, 1]
    assert len(named("t-all")) > 3  # timer, default workers and each lane's
    assert scheduler.close(5) == []
    assert scheduler.live_threads() == [] and named("t-all") == []
    assert all(handle is not None and handle.cancelled for handle in late)
    assert all(lane.closed for lane in lanes)
    assert lanes[0].submit(ran.release) is None and lanes[1].call_later(1, ran.release) is None


def test_closing_one_lane_leaves_the_others_running() -> None:
    scheduler = Scheduler(max_workers=1, name="t-one")
    closing, staying = scheduler.lane("closing", 2), scheduler.lane("staying", 1)
    ran = threading.Semaphore(0)
    closing.submit(ran.release)
    assert ran.acquire(timeout=5)
    timed = closing.call_later(3600, ran.release)
    assert closing.close(5) == []
    assert closing.closed and closing.live_threads() == [] and not scheduler.closed
    assert timed is not None and timed.cancelled and closing.pending() == 0
    assert closing.submit(ran.release) is None
    staying.submit(ran.release)
    scheduler.submit(ran.release)
    assert ran.acquire(timeout=5) and ran.acquire(timeout=5)
    assert scheduler.close(5) == []
    assert named("t-one") == []


def test_a_lane_closed_with_a_busy_worker_is_not_waited_for_again() -> None:
    scheduler = Scheduler(max_workers=1, name="t-busy")
    lane = scheduler.lane("busy", 1)
    gate, started = threading.Event(), threading.Semaphore(0)
    lane.submit(blockers(1, gate, started)[0])
    assert started.acquire(timeout=5)
    stragglers = lane.close(0.05)
    assert [t.name for t in stragglers] == ["t-busy-busy-0"]
    assert scheduler.close(5) == []  # its owner already had its bounded wait for the lane
    gate.set()
    for thread in stragglers:
        thread.join(5)
    assert named("t-busy") == []


def test_lanes_run_in_due_order_under_run_due() -> None:
    clock = FakeClock()
    scheduler = Scheduler(clock, background=False)
    first, second = scheduler.lane("first", 1), scheduler.lane("second", 4)
    order: list[str] = []
    second.call_later(20, lambda: order.append("second@20"))
    first.call_later(10, lambda: order.append("first@10"))
    scheduler.call_later(15, lambda: order.append("default@15"))
    first.submit(lambda: order.append("first@0"))
    clock.advance(30)
    assert scheduler.run_due() == 4
    assert order == ["first@0", "first@10", "default@15", "second@20"]
    assert scheduler.threads() == []  # background=False: no thread at all


@pytest.mark.parametrize("workers", [0, -1, True, 2.5, "3", None])
def test_a_bad_lane_size_is_a_clear_error(workers: object) -> None:
    scheduler = Scheduler(FakeClock(), background=False)
    with pytest.raises(ValueError, match=r"lane 'polls': workers must be an integer >= 1"):
        scheduler.lane("polls", workers)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "message"), [("", "non-empty"), ("  ", "non-empty"), ("default", "own pool")])
def test_a_bad_lane_name_is_a_clear_error(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Scheduler(FakeClock(), background=False).lane(name, 1)


def test_asking_again_returns_the_lane_and_a_new_size_is_refused() -> None:
    scheduler = Scheduler(FakeClock(), background=False)
    lane = scheduler.lane("polls", 4)
    assert scheduler.lane("polls", 4) is lane and scheduler.lanes() == [lane]
    with pytest.raises(ValueError, match="lane 'polls' already has 4 workers, not 2"):
        scheduler.lane("polls", 2)
    with pytest.raises(ValueError, match="max_workers must be an integer >= 0"):
        Scheduler(max_workers=-1)


def test_a_lane_of_a_closed_scheduler_refuses_work() -> None:
    scheduler = Scheduler(FakeClock(), max_workers=1, name="t-late")
    scheduler.close(1)
    lane = scheduler.lane("late", 2)
    assert lane.closed and lane.submit(lambda: None) is None and lane.threads() == []
