"""Unit tests of the limiters, the back-off state and the header/URL helpers."""

from __future__ import annotations

import email.utils
import threading

import pytest

from pristine_core import APIConnectionError, FakeClock
from pristine_plugins.pool import ByteBudget, CountLimiter, PoolFullError, TokenBucket
from pristine_plugins.pool.backoff import BackoffState
from pristine_runtime.backoff import retry_after_s
from pristine_runtime.tenancy import key_digest, normalize_server


def _started(target: object, *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def test_count_limiter_blocks_at_limit_and_wakes_on_release() -> None:
    limiter = CountLimiter(2)
    assert limiter.try_acquire() and limiter.try_acquire()
    assert not limiter.try_acquire()
    entered = threading.Event()

    def waiter() -> None:
        limiter.acquire()
        entered.set()

    thread = _started(waiter)
    assert not entered.wait(0.05)
    limiter.release()
    assert entered.wait(2)
    thread.join(2)
    assert limiter.in_flight == 2


def test_count_limiter_without_limit_only_counts() -> None:
    limiter = CountLimiter(None)
    for _ in range(100):
        assert limiter.try_acquire()
    assert limiter.in_flight == 100


def test_byte_budget_admits_while_balance_is_not_negative() -> None:
    budget = ByteBudget(100)
    assert budget.try_acquire(60)  # balance 40
    assert budget.try_acquire(90)  # overdraws to -50: admitted because the balance was positive
    assert budget.in_flight == 150
    assert not budget.try_acquire(1)  # balance negative: blocks
    budget.release(60)  # balance 10
    assert budget.try_acquire(500)  # one oversized request is never starved
    assert not budget.try_acquire(1)


def test_byte_budget_zero_charge_never_waits() -> None:
    budget = ByteBudget(10)
    assert budget.try_acquire(50)
    assert budget.try_acquire(0)


def test_byte_budget_waiters_are_served_in_arrival_order() -> None:
    budget = ByteBudget(10)
    budget.acquire(20)  # balance -10: everyone else waits
    order: list[str] = []
    lock = threading.Lock()
    threads = []
    for name in ("first", "second", "third"):
        queued = threading.Event()

        def run(label: str = name, queued: threading.Event = queued) -> None:
            queued.set()
            budget.acquire(15)
            with lock:
                order.append(label)

        threads.append(_started(run))
        queued.wait(2)
        # Give the thread time to enqueue behind the previous one before starting the next.
        for _ in range(200):
            if budget.waiting == len(threads):
                break
            threading.Event().wait(0.005)
    assert budget.waiting == 3
    budget.release(20)  # balance 10: "first" enters (-5), the others keep waiting
    threads[0].join(2)
    assert order == ["first"]
    budget.release(15)  # balance 10: "second"
    threads[1].join(2)
    budget.release(15)
    threads[2].join(2)
    assert order == ["first", "second", "third"]


def test_token_bucket_starts_full_then_spaces_by_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4.0, burst=2, clock=clock)
    waits = [bucket.reserve() for _ in range(5)]
    # Two saved tokens, then reservations queue up 1/rate apart with time frozen.
    assert waits == pytest.approx([0.0, 0.0, 0.25, 0.5, 0.75])


def test_token_bucket_refills_up_to_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        assert bucket.try_take()
    assert not bucket.try_take()
    clock.advance(100.0)
    assert bucket.tokens == pytest.approx(3.0)
    clock.advance(0.5)
    assert bucket.tokens == pytest.approx(3.0)


def test_token_bucket_reservations_are_thread_safe() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=1, clock=clock)
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def run() -> None:
        barrier.wait(2)
        value = bucket.reserve()
        with lock:
            waits.append(value)

    threads = [_started(run) for _ in range(8)]
    for thread in threads:
        thread.join(2)
    assert sorted(waits) == pytest.approx([i / 10.0 for i in range(8)])


def test_backoff_state_windows() -> None:
    clock = FakeClock()
    state = BackoffState(clock)
    assert not state.throttled() and state.backoff_remaining() == 0
    state.back_off(2.0, 10.0)
    assert state.backoff_remaining() == pytest.approx(2.0)
    assert state.wait_out_backoff() == pytest.approx(2.0)
    assert clock.sleeps == pytest.approx([2.0])
    assert state.throttled()
    state.back_off(0.5, 1.0)  # a shorter request never shortens the current window
    clock.advance(9.9)
    assert state.throttled()
    clock.advance(0.2)
    assert not state.throttled()


def test_backoff_state_gate_applies_only_while_throttled() -> None:
    clock = FakeClock()
    state = BackoffState(clock)
    assert state.try_enter(1) and state.try_enter(1)  # not throttled: no reduced limit
    state.back_off(0.0, 5.0)
    assert not state.try_enter(2)
    state.leave()
    assert state.try_enter(2)
    assert not state.try_enter(2)
    clock.advance(6.0)
    assert state.try_enter(2)
    assert state.in_flight == 3


def test_retry_after_parsing() -> None:
    assert retry_after_s({"Retry-After": "3"}, 0.0) == 3.0
    assert retry_after_s({"retry-after-ms": "250", "Retry-After": "9"}, 0.0) == 0.25
    assert retry_after_s({"Retry-After": "-1"}, 0.0) is None
    assert retry_after_s({"Retry-After": "soon"}, 0.0) is None
    assert retry_after_s({}, 0.0) is None
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after_s({"Retry-After": date}, now) == pytest.approx(7.0, abs=1.0)


def test_server_normalization_and_key_digest() -> None:
    assert normalize_server("HTTPS://API.Example.com:443/v1/") == "https://api.example.com"
    assert normalize_server("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert normalize_server("http://host:80") == "http://host"
    secret = "sk-very-secret-value"
    digest = key_digest(secret)
    assert secret not in digest and digest == key_digest(secret) != key_digest("sk-other-value")
    assert key_digest(None) == "anonymous"


def test_pool_full_error_pickles_and_is_retryable() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(PoolFullError("narrow", "concurrency")))
    assert isinstance(error, APIConnectionError) and error.retryable
    assert (error.pool, error.what) == ("narrow", "concurrency")
    assert "narrow" in str(error)
