"""429 back-pressure: back off, throttle for a window, resend; measured at a loopback server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from pristine_core import Client, FakeClock, RateLimitError
from pristine_core.errors import BackoffPending
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

# The numbers of the "sample" pool in conftest.BASE_MANIFEST (conftest is not importable here).
SMALL_DELAY, LARGE_DELAY, LARGE_PAYLOAD = 1.0, 5.0, 1000
REDUCED, MULTIPLIER, WINDOW, CONCURRENCY = 2, 3.0, 60.0, 8


def _too_many(seen: SeenRequest, headers: dict[str, str] | None = None) -> Reply:
    return json_reply({"detail": "slow down"}, status=429, headers=headers)


def _first_is_429(seen: SeenRequest, number: int) -> Reply | None:
    return _too_many(seen) if number == 1 else None


def test_a_429_throttles_to_the_reduced_limit_for_the_window_then_recovers(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client], load: Callable[..., None]
) -> None:
    clock = FakeClock()
    client = make_client(base_url=server.url, clock=clock)
    pool = client.meta.plugin("pool")
    meter.script = _first_is_429

    assert client.jobs.sample(data="hello") == {}  # 429, back off, resend, 200
    assert meter.count == 2 and meter.paths == ["/sample", "/sample"]
    assert clock.sleeps == [SMALL_DELAY]
    assert pool.snapshot()["sample"].throttled
    assert pool.snapshot()["sample"].limit == REDUCED

    meter.script = None
    meter.hold_s = 0.01
    meter.reset_peaks()
    meter.expect_together(REDUCED)
    load(client, threads=16, calls=32, endpoint="jobs.sample")
    assert meter.peak == REDUCED  # throttled: never more than the reduced limit at the server

    clock.advance(WINDOW)  # the window ends
    assert not pool.snapshot()["sample"].throttled
    meter.reset_peaks()
    meter.expect_together(CONCURRENCY)
    load(client, threads=16, calls=32, endpoint="jobs.sample")
    assert meter.peak == CONCURRENCY  # recovered to the pool's normal limit, and no more
    assert clock.sleeps == [SMALL_DELAY]  # nothing else waited on the clock
    assert meter.count == 2 + 64


def test_throttled_requests_are_charged_the_byte_multiplier(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client]
) -> None:
    clock = FakeClock()
    client = make_client(base_url=server.url, clock=clock)
    charges: list[tuple[int, int]] = []

    def record(seen: SeenRequest, number: int) -> Reply | None:
        charges.append((len(seen.body), client.meta.plugin("pool").snapshot()["sample"].bytes_in_flight))
        return _first_is_429(seen, number)

    meter.script = record
    client.jobs.sample(data="a" * 40)  # 429 (normal charge), then the resend (throttled)
    client.jobs.sample(data="b" * 70)  # still throttled
    clock.advance(WINDOW + SMALL_DELAY)
    client.jobs.sample(data="c" * 10)  # recovered
    expected = [
        (charges[0][0], charges[0][0]),
        (charges[1][0], int(charges[1][0] * MULTIPLIER)),
        (charges[2][0], int(charges[2][0] * MULTIPLIER)),
        (charges[3][0], charges[3][0]),
    ]
    assert charges == expected


def test_large_payloads_back_off_longer(server: LoopbackServer, meter: Any, make_client: Callable[..., Client]) -> None:
    clock = FakeClock()
    client = make_client(base_url=server.url, clock=clock)
    meter.script = _first_is_429
    client.jobs.sample(data="x" * (LARGE_PAYLOAD + 1))
    assert clock.sleeps == [LARGE_DELAY]


def test_the_retry_after_header_sets_the_delay(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client]
) -> None:
    clock = FakeClock()
    client = make_client(base_url=server.url, clock=clock)
    meter.script = lambda seen, number: _too_many(seen, {"Retry-After": "2.5"}) if number == 1 else None
    client.jobs.sample(data="x")
    assert clock.sleeps == [2.5]


def test_max_attempts_bounds_the_resends(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client]
) -> None:
    clock = FakeClock()
    config = {"pools": {"sample": {"backpressure": {"max_attempts": 3}}}}
    client = make_client(base_url=server.url, clock=clock, config=config)
    meter.script = lambda seen, number: _too_many(seen)
    with pytest.raises(RateLimitError):
        client.jobs.sample(data="x")
    assert meter.count == 3
    assert clock.sleeps == [SMALL_DELAY, SMALL_DELAY]
    # The last 429 still holds the tenant back.
    assert client.meta.plugin("pool").snapshot()["sample"].backoff_remaining_s == pytest.approx(SMALL_DELAY)


def test_defer_backoff_raises_instead_of_sleeping(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client]
) -> None:
    """Per call ``defer_backoff``: the 429 starts the tenant's back-off as usual, but the call
    raises BackoffPending (the delay to wait) instead of sleeping; so does a call made while the
    back-off lasts, before sending anything. Once it passed, the call goes through."""
    from pristine_core import hookimpl

    class Events:
        name = "events"
        priority = 10

        def __init__(self) -> None:
            self.seen: list[str] = []

        @hookimpl
        def pristine_on_event(self, event: Any) -> None:
            if event.name.startswith("request.") and event.name != "request.start":
                self.seen.append(event.name)

    events = Events()
    clock = FakeClock()
    client = make_client(base_url=server.url, clock=clock, extra=(events,))
    meter.script = _first_is_429
    defer = {"defer_backoff": True}
    with pytest.raises(BackoffPending) as first:
        client.jobs.sample(data="x", request_options=defer)
    assert first.value.delay_s == SMALL_DELAY and first.value.pool == "sample"
    assert meter.count == 1 and clock.sleeps == []
    clock.advance(0.25)
    with pytest.raises(BackoffPending) as pending:
        client.jobs.sample(data="x", request_options=defer)
    assert pending.value.delay_s == pytest.approx(SMALL_DELAY - 0.25) and meter.count == 1
    clock.advance(SMALL_DELAY)
    client.jobs.sample(data="x", request_options=defer)
    assert meter.count == 2 and clock.sleeps == []
    # A deferral is not a failure: no request.error event (telemetry would report one).
    assert events.seen == ["request.deferred", "request.deferred", "request.end"]


def test_endpoints_without_the_flag_get_their_429_unchanged(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client]
) -> None:
    clock = FakeClock()
    client = make_client(base_url=server.url, clock=clock)
    meter.script = lambda seen, number: _too_many(seen)
    with pytest.raises(RateLimitError):
        client.jobs.peek(data="x")  # same pool, but not declared backpressure
    assert meter.count == 1 and clock.sleeps == []
    assert not client.meta.plugin("pool").snapshot()["sample"].throttled


def test_backpressure_and_wait_events(server: LoopbackServer, meter: Any, make_client: Callable[..., Client]) -> None:
    from pristine_core import hookimpl

    class Events:
        name = "events"
        priority = 10

        def __init__(self) -> None:
            self.seen: list[tuple[str, dict[str, Any]]] = []

        @hookimpl
        def pristine_on_event(self, event: Any) -> None:
            if event.name in ("backpressure", "pool.wait"):
                self.seen.append((event.name, dict(event.fields)))

    events = Events()
    clock = FakeClock()
    client = make_client(base_url=server.url, clock=clock, extra=(events,))
    meter.script = _first_is_429
    client.jobs.sample(data="x")
    assert events.seen == [
        (
            "backpressure",
            {
                "pool": "sample",
                "endpoint": "jobs.sample",
                "status": 429,
                "delay_s": SMALL_DELAY,
                "window_s": WINDOW,
                "attempt": 1,
            },
        ),
        ("pool.wait", {"pool": "sample", "reason": "backoff", "waited_s": SMALL_DELAY}),
    ]
    assert json.dumps(events.seen)  # events carry plain data only


def test_a_back_off_longer_than_the_calls_deadline_is_not_waited_out(
    server: LoopbackServer, meter: Any, make_client: Callable[..., Client]
) -> None:
    clock = FakeClock()
    client = make_client(base_url=server.url, clock=clock)
    meter.script = lambda seen, number: _too_many(seen, {"Retry-After": "30"})
    with pytest.raises(RateLimitError):  # the 429 answers the call: a 30 s back-off cannot fit in 5 s
        client.jobs.sample(data="x", request_options={"timeout_s": 5})
    assert meter.count == 1 and clock.sleeps == []
    meter.script = lambda seen, number: _too_many(seen, {"Retry-After": "2"}) if number == 2 else None
    assert client.jobs.sample(data="y", request_options={"timeout_s": 50}) == {}  # 30 s fit in 50 s
    assert clock.sleeps == [30.0, 2.0] and meter.count == 3  # waited out the first back-off, then the second
