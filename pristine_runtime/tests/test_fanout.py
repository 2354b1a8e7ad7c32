"""pristine_runtime.fanout.run_concurrently: concurrent, ordered outcomes, never stuck on busy workers."""

from __future__ import annotations

import threading

import pytest

from pristine_runtime.fanout import Outcome, run_concurrently
from pristine_runtime.scheduler import Scheduler


def test_calls_overlap_and_outcomes_keep_input_order() -> None:
    barrier = threading.Barrier(4, timeout=5.0)  # passes only if all four calls run at once

    def call(i: int) -> int:
        barrier.wait()
        return i * 10

    with Scheduler(max_workers=4, name="fanout-test") as scheduler:
        outcomes = run_concurrently(scheduler, [lambda i=i: call(i) for i in range(4)])
    assert [o.get() for o in outcomes] == [0, 10, 20, 30]


def test_errors_are_returned_in_place_and_do_not_stop_the_others() -> None:
    def boom() -> int:
        raise ValueError("chunk 1 failed")

    with Scheduler(max_workers=2, name="fanout-test") as scheduler:
        outcomes = run_concurrently(scheduler, [lambda: 1, boom, lambda: 3])
    assert outcomes[0] == Outcome(1) and outcomes[2] == Outcome(3)
    assert isinstance(outcomes[1].error, ValueError)
    with pytest.raises(ValueError, match="chunk 1 failed"):
        outcomes[1].get()


def test_unstarted_calls_run_on_the_caller_when_no_worker_is_free() -> None:
    scheduler = Scheduler(max_workers=1, name="fanout-test", background=False)  # no worker ever runs
    caller = threading.current_thread()
    seen: list[threading.Thread] = []
    outcomes = run_concurrently(scheduler, [lambda i=i: seen.append(threading.current_thread()) or i for i in range(3)])
    assert [o.get() for o in outcomes] == [0, 1, 2]
    assert seen == [caller] * 3
    scheduler.close()


def test_a_closed_scheduler_runs_everything_on_the_caller() -> None:
    scheduler = Scheduler(max_workers=2, name="fanout-test")
    scheduler.close()
    assert [o.get() for o in run_concurrently(scheduler, [lambda: "a", lambda: "b"])] == ["a", "b"]
    assert run_concurrently(scheduler, []) == []
