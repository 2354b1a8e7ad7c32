"""submit_in_background: the future comes back at once and settles with the submission's result."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from pristine_core.errors import BackoffPending
from pristine_plugins.futures import APIFuture, SubmissionRefusedError, resolved, submit_in_background
from pristine_runtime.clock import FakeClock
from pristine_runtime.scheduler import Scheduler


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    with Scheduler(max_workers=2, name="background-test") as sched:
        yield sched


def test_returns_at_once_and_relays_the_eventual_future(scheduler: Scheduler) -> None:
    gate = threading.Event()
    inner: APIFuture[str] = APIFuture("req-7", "demo.call")

    def submit() -> APIFuture[str]:
        gate.wait(5.0)  # a blocking submission (a back-off, a full pool)
        return inner

    outer = submit_in_background(scheduler, submit, "demo.call")
    assert not outer.done() and outer.endpoint == "demo.call"
    gate.set()
    inner.set_result("done")
    assert outer.result(timeout=5.0) == "done"
    assert outer.request_id == "req-7"


def test_plain_values_and_errors(scheduler: Scheduler) -> None:
    assert submit_in_background(scheduler, lambda: 42).result(timeout=5.0) == 42
    assert submit_in_background(scheduler, lambda: resolved("x")).result(timeout=5.0) == "x"

    def refuse() -> None:
        raise RuntimeError("submission failed")

    with pytest.raises(RuntimeError, match="submission failed"):
        submit_in_background(scheduler, refuse).result(timeout=5.0)
    failing: APIFuture[int] = APIFuture()
    failing.set_exception(KeyError("late"))
    with pytest.raises(KeyError):
        submit_in_background(scheduler, lambda: failing).result(timeout=5.0)


def test_cancel_reaches_the_submission_and_its_future(scheduler: Scheduler) -> None:
    started, gate = threading.Event(), threading.Event()
    inner: APIFuture[int] = APIFuture()
    called_off = threading.Event()
    inner.add_done_callback(lambda _: called_off.set())

    def submit() -> APIFuture[int]:
        started.set()
        gate.wait(5.0)
        return inner

    outer = submit_in_background(scheduler, submit)
    assert started.wait(5.0)
    assert outer.cancel()
    gate.set()
    assert called_off.wait(5.0) and inner.cancelled()  # the submission's own future was called off too


class _NamedClock(FakeClock):
    """A FakeClock that also notes which thread slept (or waited) how long."""

    def __init__(self) -> None:
        super().__init__()
        self.sleepers: list[tuple[str, float]] = []

    def sleep(self, seconds: float) -> None:
        self.sleepers.append((threading.current_thread().name, seconds))
        super().sleep(seconds)


def _until(condition: Callable[[], bool]) -> bool:
    for _ in range(500):
        if condition():
            return True
        threading.Event().wait(0.01)
    return False


def test_a_deferred_back_off_is_waited_out_on_the_timer_not_by_a_worker() -> None:
    """A submission raising BackoffPending runs again once the back-off has passed on the
    scheduler's clock, and it is the scheduler's timer that waits for it, not a worker."""
    clock = _NamedClock()
    attempts: list[float] = []

    def submit() -> str:
        attempts.append(clock.monotonic())
        if len(attempts) == 1:
            raise BackoffPending(30.0, "sample")
        return "sent"

    with Scheduler(clock, max_workers=1, name="background-test") as sched:
        assert submit_in_background(sched, submit, "demo.call").result(timeout=5.0) == "sent"
    assert attempts[1] - attempts[0] >= 30.0
    waits = [(name, seconds) for name, seconds in clock.sleepers if seconds >= 1.0]
    assert waits and all(name.endswith("-timer") for name, _ in waits)


def test_cancelling_during_a_deferred_back_off_calls_the_resend_off() -> None:
    attempts: list[int] = []

    def submit() -> str:
        attempts.append(1)
        raise BackoffPending(30.0, "sample")

    with Scheduler(max_workers=1, name="background-test") as sched:
        outer = submit_in_background(sched, submit, "demo.call")
        assert _until(lambda: sched.pending() == 1)  # the resend waits as a timer entry
        assert submit_in_background(sched, lambda: "other").result(timeout=5.0) == "other"  # the worker is free
        assert outer.cancel()
        assert _until(lambda: sched.pending() == 0) and attempts == [1]


def test_a_closed_scheduler_fails_the_future() -> None:
    sched = Scheduler(max_workers=1, name="background-test")
    sched.close()
    with pytest.raises(SubmissionRefusedError, match="closed"):
        submit_in_background(sched, lambda: 1, "demo.call").result(timeout=1.0)


def test_the_plugin_runs_submissions_on_its_own_bounded_workers(future_server, make_client, plugin) -> None:
    client = make_client(future_server.url, futures={"submit_workers": 2})
    futures_plugin = plugin(client)
    gate = threading.Event()
    running = threading.Semaphore(0)

    def submit() -> str:
        running.release()
        gate.wait(5.0)
        return "accepted"

    held = [futures_plugin.submit_in_background(submit, "demo.call") for _ in range(3)]
    assert running.acquire(timeout=5.0) and running.acquire(timeout=5.0)
    assert not running.acquire(timeout=0.05)  # the third waits for one of the two workers
    names = {t.name for t in futures_plugin.threads()}
    assert sum(name.startswith("pristine-submit-") for name in names) == 2
    gate.set()
    assert [f.result(timeout=5.0) for f in held] == ["accepted"] * 3


def test_closing_the_client_fails_submissions_still_waiting(future_server, make_client, plugin) -> None:
    from pristine_plugins.futures import FutureClosedError

    client = make_client(future_server.url, futures={"submit_workers": 1})
    futures_plugin = plugin(client)
    gate, started = threading.Event(), threading.Event()

    def blocked() -> str:
        started.set()
        gate.wait(5.0)
        return "too late"

    busy = futures_plugin.submit_in_background(blocked, "demo.call")
    busy.add_done_callback(lambda _: gate.set())  # closing settles it, which lets the worker go
    assert started.wait(5.0)
    queued = futures_plugin.submit_in_background(lambda: "never", "demo.call")
    client.close()
    for future in (busy, queued):
        with pytest.raises(FutureClosedError):
            future.result(timeout=5.0)
    with pytest.raises(SubmissionRefusedError):
        futures_plugin.submit_in_background(lambda: "late", "demo.call").result(timeout=5.0)
