"""The circuit breaker: state machine, client integration and thread safety."""

from __future__ import annotations

import pickle
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses as responses_lib

from pristine_core import Client, FakeClock, PristineError, RequestOptions
from pristine_plugins.retry import CLOSED, HALF_OPEN, OPEN, BreakerRegistry, CircuitBreaker, CircuitOpenError
from pristine_plugins.retry.breaker import FAILURE, NEUTRAL, SUCCESS
from pristine_plugins.retry.settings import CircuitBreakerSpec

BASE = "http://api.test"
GUARDED = f"{BASE}/guarded"


def make_breaker(clock: FakeClock, threshold: int = 3, reset: float = 30.0, trials: int = 1) -> CircuitBreaker:
    return CircuitBreaker("b", CircuitBreakerSpec(threshold, reset, trials), clock)


def fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        breaker.record(breaker.acquire(), FAILURE)


# -- the state machine -------------------------------------------------------------------------


def test_opens_after_threshold_consecutive_failures(clock: FakeClock) -> None:
    breaker = make_breaker(clock, threshold=3)
    fail(breaker, 2)
    assert breaker.state == CLOSED and breaker.failure_count == 2
    fail(breaker)
    assert breaker.state == OPEN


def test_a_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    breaker = make_breaker(clock, threshold=3)
    fail(breaker, 2)
    breaker.record(breaker.acquire(), SUCCESS)
    fail(breaker, 2)
    assert breaker.state == CLOSED


def test_open_rejects_fast_with_a_non_retryable_error(clock: FakeClock) -> None:
    breaker = make_breaker(clock, threshold=1, reset=30)
    fail(breaker)
    clock.advance(10)
    with pytest.raises(CircuitOpenError) as info:
        breaker.acquire()
    assert isinstance(info.value, PristineError)
    assert info.value.retryable is False
    assert info.value.retry_in_s == pytest.approx(20.0)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.name, copy.retry_in_s, str(copy)) == ("b", info.value.retry_in_s, str(info.value))


def test_half_open_after_the_reset_timeout_and_a_trial_success_closes(clock: FakeClock) -> None:
    breaker = make_breaker(clock, threshold=1, reset=30)
    fail(breaker)
    clock.advance(29.9)
    assert breaker.state == OPEN
    clock.advance(0.1)
    assert breaker.state == HALF_OPEN
    trial = breaker.acquire()
    with pytest.raises(CircuitOpenError):  # only one trial at a time
        breaker.acquire()
    breaker.record(trial, SUCCESS)
    assert breaker.state == CLOSED
    breaker.acquire()


def test_a_trial_failure_reopens_for_a_full_timeout(clock: FakeClock) -> None:
    breaker = make_breaker(clock, threshold=1, reset=30)
    fail(breaker)
    clock.advance(30)
    breaker.record(breaker.acquire(), FAILURE)
    assert breaker.state == OPEN
    clock.advance(29)
    assert breaker.state == OPEN
    clock.advance(1)
    assert breaker.state == HALF_OPEN


def test_half_open_admits_half_open_max_calls_trials_and_neutral_frees_a_slot(clock: FakeClock) -> None:
    breaker = make_breaker(clock, threshold=1, reset=5, trials=2)
    fail(breaker)
    clock.advance(5)
    first, second = breaker.acquire(), breaker.acquire()
    with pytest.raises(CircuitOpenError):
        breaker.acquire()
    breaker.record(first, NEUTRAL)
    third = breaker.acquire()
    breaker.record(second, SUCCESS)
    assert breaker.state == CLOSED
    breaker.record(third, FAILURE)  # a stale trial from the finished half-open phase
    assert breaker.state == CLOSED and breaker.failure_count == 0


def test_outcomes_of_calls_admitted_before_the_breaker_opened_are_ignored(clock: FakeClock) -> None:
    breaker = make_breaker(clock, threshold=1, reset=5)
    early = breaker.acquire()
    fail(breaker)
    clock.advance(5)
    trial = breaker.acquire()
    breaker.record(early, SUCCESS)
    assert breaker.state == HALF_OPEN
    breaker.record(trial, SUCCESS)
    assert breaker.state == CLOSED


def test_call_helper_and_reset(clock: FakeClock) -> None:
    breaker = make_breaker(clock, threshold=2)

    def boom() -> None:
        raise ValueError("x")

    for _ in range(2):
        with pytest.raises(ValueError):
            breaker.call(boom)
    assert breaker.state == OPEN
    breaker.reset()
    assert breaker.call(lambda: 41, is_failure=lambda r: r != 41) == 41
    assert breaker.state == CLOSED


def test_transitions_are_announced(clock: FakeClock) -> None:
    seen: list[tuple[str, str, str]] = []
    registry = BreakerRegistry(clock, listener=lambda *t: seen.append(t))
    breaker = registry.get("svc", CircuitBreakerSpec(1, 10, 1))
    fail(breaker)
    clock.advance(10)
    breaker.record(breaker.acquire(), SUCCESS)
    assert seen == [("svc", CLOSED, OPEN), ("svc", OPEN, HALF_OPEN), ("svc", HALF_OPEN, CLOSED)]
    assert registry.states() == {"svc": CLOSED}
    assert registry.get("svc") is breaker


# -- through a client -----------------------------------------------------------------------------


@pytest.fixture
def guarded(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> Iterator[tuple[Client, responses_lib.RequestsMock]]:
    yield make_client(manifest), mocked


def test_client_breaker_opens_rejects_fast_half_opens_and_closes(
    guarded: tuple[Client, responses_lib.RequestsMock], clock: FakeClock, recorder: Any
) -> None:
    client, mock = guarded
    mock.add("POST", GUARDED, json={}, status=503)
    for _ in range(3):
        assert client.items.guarded.raw(name="a").status_code == 503
    with pytest.raises(CircuitOpenError):
        client.items.guarded(name="a")
    assert len(mock.calls) == 3  # rejected without a request
    clock.advance(30)
    mock.replace("POST", GUARDED, json={"ok": True})
    assert client.items.guarded(name="a").ok is True
    assert client.meta.plugin("retry").breaker("backend").state == CLOSED
    assert [e["state"] for e in recorder.named("circuit_breaker")] == [OPEN, HALF_OPEN, CLOSED]


def test_client_trial_failure_reopens(guarded: tuple[Client, responses_lib.RequestsMock], clock: FakeClock) -> None:
    client, mock = guarded
    mock.add("POST", GUARDED, body=requests.ConnectionError("down"))
    for _ in range(3):
        with pytest.raises(PristineError):
            client.items.guarded(name="a")
    clock.advance(30)
    with pytest.raises(PristineError):
        client.items.guarded(name="a")
    assert client.meta.plugin("retry").breaker("backend").state == OPEN
    assert len(mock.calls) == 4


def test_an_open_breaker_stops_the_retry_loop(
    guarded: tuple[Client, responses_lib.RequestsMock], clock: FakeClock
) -> None:
    client, mock = guarded
    mock.add("GET", f"{BASE}/guarded-retry", json={}, status=503)
    with pytest.raises(CircuitOpenError):
        client.items.guarded_retry()  # std policy would allow 4 attempts; the 4th is rejected
    assert len(mock.calls) == 3
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_non_retryable_statuses_count_as_success(guarded: tuple[Client, responses_lib.RequestsMock]) -> None:
    client, mock = guarded
    for status in (503, 503, 404, 503, 503):
        mock.add("POST", GUARDED, json={}, status=status)
    for _ in range(5):
        client.items.guarded.raw(name="a")
    assert client.meta.plugin("retry").breaker("backend").state == CLOSED


def test_a_call_can_bypass_the_breaker(guarded: tuple[Client, responses_lib.RequestsMock]) -> None:
    client, mock = guarded
    mock.add("POST", GUARDED, json={}, status=503)
    client.meta.plugin("retry").breaker("backend").call(lambda: None)  # created, closed
    for _ in range(3):
        client.items.guarded.raw(name="a")
    bypass = RequestOptions(extensions={"circuit_breaker": False})
    assert client.items.guarded.raw(name="a", request_options=bypass).status_code == 503
    assert len(mock.calls) == 4


def test_client_config_overrides_breaker_settings(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client]
) -> None:
    mocked.add("POST", GUARDED, json={}, status=500)
    client = make_client(manifest, config={"circuit_breakers": {"backend": {"failure_threshold": 1}}})
    client.items.guarded.raw(name="a")
    with pytest.raises(CircuitOpenError):
        client.items.guarded.raw(name="a")


def test_a_shared_registry_shares_state_between_clients(
    mocked: responses_lib.RequestsMock, manifest: dict[str, Any], make_client: Callable[..., Client], clock: FakeClock
) -> None:
    mocked.add("POST", GUARDED, json={}, status=500)
    registry = BreakerRegistry(clock)
    first = make_client(manifest, config={"circuit_breaker_registry": registry})
    second = make_client(manifest, config={"circuit_breaker_registry": registry})
    for _ in range(3):
        first.items.guarded.raw(name="a")
    with pytest.raises(CircuitOpenError):
        second.items.guarded.raw(name="a")


# -- thread safety ----------------------------------------------------------------------------------


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads very often so that races would show."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def run_threads(count: int, target: Callable[[int], None]) -> None:
    barrier = threading.Barrier(count)

    def body(i: int) -> None:
        barrier.wait()
        target(i)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)


def test_concurrent_failures_are_all_counted(clock: FakeClock, busy_switching: None) -> None:
    transitions: list[tuple[str, str, str]] = []
    breaker = CircuitBreaker("b", CircuitBreakerSpec(64, 30, 1), clock, lambda *t: transitions.append(t))
    tickets = [breaker.acquire() for _ in range(63)]
    run_threads(63, lambda i: breaker.record(tickets[i], FAILURE))
    assert breaker.failure_count == 63 and breaker.state == CLOSED

    def fail_unless_open(_: int) -> None:
        # Another thread may open the breaker between any check and acquire: rejection is fine.
        try:
            fail(breaker)
        except CircuitOpenError:
            pass

    run_threads(16, fail_unless_open)
    assert transitions == [("b", CLOSED, OPEN)]


def test_half_open_admits_exactly_max_calls_under_contention(clock: FakeClock, busy_switching: None) -> None:
    breaker = make_breaker(clock, threshold=1, reset=1, trials=3)
    fail(breaker)
    clock.advance(1)
    admitted: list[Any] = []
    rejected: list[Any] = []
    lock = threading.Lock()

    def try_acquire(_: int) -> None:
        try:
            ticket = breaker.acquire()
        except CircuitOpenError:
            with lock:
                rejected.append(1)
        else:
            with lock:
                admitted.append(ticket)

    run_threads(40, try_acquire)
    assert len(admitted) == 3 and len(rejected) == 37


def test_mixed_concurrent_use_keeps_invariants(clock: FakeClock, busy_switching: None) -> None:
    breaker = make_breaker(clock, threshold=5, reset=0.5, trials=2)
    problems: list[str] = []

    def worker(i: int) -> None:
        for n in range(300):
            try:
                ticket = breaker.acquire()
            except CircuitOpenError:
                clock.advance(0.01)
                continue
            breaker.record(ticket, FAILURE if (i + n) % 3 else SUCCESS)
            if breaker.state not in (CLOSED, OPEN, HALF_OPEN):
                problems.append(breaker.state)
            if breaker._trials > 2:  # white-box check of the trial limit
                problems.append(f"trials={breaker._trials}")

    run_threads(12, worker)
    assert problems == []
