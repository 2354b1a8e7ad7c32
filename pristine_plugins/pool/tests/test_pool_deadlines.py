"""A call's deadline bounds its local waits: a pool slot, the byte budget, a rate token, the gate.

Each test runs against a real loopback server. Where the wait is for another request (a slot,
bytes) a fake clock is moved past the deadline while the call waits; the rate-token wait is
pure clock arithmetic; one test uses real time to show the wall-clock bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from pristine_core import APITimeoutError, Client, FakeClock
from pristine_plugins.pool.backoff import BackoffState
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply


class Holding:
    """A server handler that keeps the first request until :attr:`release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = threading.Event()
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, seen: SeenRequest) -> Reply:
        with self._lock:
            self.count += 1
            first = self.count == 1
        if first:
            self.arrived.set()
            self.release.wait(10)
        return json_reply({})


def _wait_until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    ends = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < ends, "condition not reached"
        time.sleep(0.005)


def _in_thread(action: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_waiting_for_a_pool_slot_ends_at_the_deadline_on_a_fake_clock(make_client: Callable[..., Client]) -> None:
    holding = Holding()
    before = set(threading.enumerate())
    with LoopbackServer(holding) as server:
        clock = FakeClock()
        client = make_client(base_url=server.url, clock=clock, config={"pools": {"work": {"concurrency": 1}}})
        holder, held = _in_thread(lambda: client.jobs.run(data="a"))  # no deadline: holds the one slot
        assert holding.arrived.wait(5)
        waiter, outcome = _in_thread(lambda: client.jobs.run(data="b", request_options={"timeout_s": 5}))
        count = client.meta.plugin("pool")._runtime("work").count
        _wait_until(lambda: count.waiting == 1)
        clock.advance(4)  # not yet: the call keeps waiting
        time.sleep(0.1)
        assert waiter.is_alive()
        clock.advance(2)  # past the deadline: the waiter gives up within one re-check
        waiter.join(2)
        assert not waiter.is_alive()
        error = outcome["error"]
        assert isinstance(error, APITimeoutError)
        assert "pool 'work' (concurrency)" in str(error) and "not sent" in str(error)
        assert holding.count == 1 and count.waiting == 0
        holding.release.set()
        holder.join(5)
        assert held == {"value": {}}
        assert count.in_flight == 0  # the timed-out waiter took no slot
        assert client.jobs.run(data="c", request_options={"timeout_s": 5}) == {}
        client.close()
    assert set(threading.enumerate()) - before == set()


def test_waiting_for_bytes_ends_at_the_deadline_in_real_time(make_client: Callable[..., Client]) -> None:
    holding = Holding()
    with LoopbackServer(holding) as server:
        client = make_client(base_url=server.url)  # pool "budget": byte_budget 1000
        holder, _ = _in_thread(lambda: client.jobs.upload(data="x" * 2000))  # overdraws the budget
        assert holding.arrived.wait(5)
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=r"pool 'budget' \(bytes\)"):
            client.jobs.upload(data="y", request_options={"timeout_s": 0.3})
        elapsed = time.monotonic() - started
        budget = client.meta.plugin("pool")._runtime("budget").bytes
        assert budget.waiting == 0  # the place in line was given up
        holding.release.set()
        holder.join(5)
        assert 0.25 <= elapsed < 1.0, elapsed
        assert holding.count == 1 and budget.in_flight == 0
        assert client.jobs.upload(data="z", request_options={"timeout_s": 5}) == {}


def test_a_rate_token_due_after_the_deadline_is_not_waited_for(
    make_client: Callable[..., Client], manifest_factory: Callable[..., Any]
) -> None:
    clock = FakeClock()
    manifest = manifest_factory(pools={"work": {"connections": 2, "rate_limit": {"rate": 1, "burst": 1}}})
    with LoopbackServer(lambda seen: json_reply({})) as server:
        client = make_client(manifest, base_url=server.url, clock=clock)
        assert client.jobs.run(data="a") == {}  # takes the only token
        with pytest.raises(APITimeoutError, match=r"pool 'work' \(rate\)"):
            client.jobs.run(data="b", request_options={"timeout_s": 0.5})  # the next token is 1 s away
        assert clock.sleeps == [] and len(server.requests) == 1
        clock.advance(1.0)  # the refunded token is back: no wait
        assert client.jobs.run(data="c", request_options={"timeout_s": 0.5}) == {}
        assert clock.sleeps == [] and len(server.requests) == 2


def test_the_throttle_gate_gives_up_at_the_deadline() -> None:
    clock = FakeClock()
    state = BackoffState(clock)
    state.back_off(0.0, 60.0)  # throttled for a minute
    assert state.try_enter(1)  # one in flight: the reduced limit of 1 is reached
    deadline = clock.monotonic() + 5
    thread, outcome = _in_thread(lambda: state.enter(1, lambda: deadline - clock.monotonic()))
    time.sleep(0.1)
    assert thread.is_alive()
    clock.advance(6)
    thread.join(2)
    assert outcome == {"value": False} and state.in_flight == 1
    state.leave()
    assert state.enter(1, lambda: deadline - clock.monotonic()) is True  # a free gate needs no wait
    assert state.in_flight == 1


def test_a_back_off_extended_while_waiting_is_not_waited_past_the_deadline() -> None:
    """Another client of the tenant extends the back-off during the wait: the caller stops."""

    class ExtendingClock(FakeClock):
        def __init__(self) -> None:
            super().__init__()
            self.state: BackoffState | None = None

        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if self.state is not None and len(self.sleeps) == 1:
                self.state.back_off(10.0, 0.0)  # a 429 seen meanwhile by another client

    clock = ExtendingClock()
    state = clock.state = BackoffState(clock)
    state.back_off(2.0, 0.0)
    deadline = clock.monotonic() + 5
    assert state.wait_out_backoff(lambda: deadline - clock.monotonic()) is None
    assert clock.sleeps == [2.0]  # the first back-off fitted; the extended one (10 s) does not
    assert BackoffState(clock).wait_out_backoff(lambda: 0.0) == 0.0  # nothing to wait: no deadline check
