"""Stream deadlines, idle timeouts and reconnect back-off, against a real loopback server.

The limits are enforced on real time (they cut sockets), so those tests take fractions of a
second of wall time; reconnect delays go through the client's fake clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pristine_core as pc
from pristine_core.errors import APIStatusError, APITimeoutError
from pristine_plugins.streaming import StreamingPlugin, StreamingSettings, StreamInterruptedError
from pristine_runtime.clock import FakeClock
from pristine_testing import LoopbackServer, Reply, SeenRequest

from .conftest import SSE_HEADERS, cut_after

MakeClient = Callable[..., pc.Client]


def sse_reply(body: Any) -> Reply:
    """A 200 event-stream reply."""
    return Reply(200, body, SSE_HEADERS)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """Set at the end of a test: endless server bodies stop."""
    event = threading.Event()
    yield event
    event.set()


def drip(stop: threading.Event, data: bytes, interval_s: float) -> Iterator[bytes]:
    """``data`` one byte every ``interval_s``."""
    for byte in data:
        if stop.wait(interval_s):
            return
        yield bytes([byte])


def every(stop: threading.Event, interval_s: float, make: Callable[[int], bytes]) -> Iterator[bytes]:
    """``make(n)`` every ``interval_s`` until the test ends."""
    n = 0
    while not stop.wait(interval_s):
        n += 1
        yield make(n)


def test_a_dripping_stream_ends_at_the_call_deadline(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event, capsys: pytest.CaptureFixture[str]
) -> None:
    """One byte every 0.2 s never completes an event: the call's timeout_s ends the stream."""
    server.handler = lambda r: sse_reply(drip(stop, b"data: " + b"x" * 200 + b"\n\n", 0.2))
    client = make_client()
    started = time.monotonic()
    stream = client.events.watch(topic="t", request_options={"timeout_s": 1})
    with pytest.raises(APITimeoutError, match="before the first event"):
        next(stream)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 1.5, elapsed
    assert stream.closed and stream.reconnects == 0 and len(server.requests) == 1
    watchdog = client.meta.watchdog
    client.close()
    assert watchdog.closed and watchdog.live_threads() == []
    with capsys.disabled():
        print(f"\n[deadlines] SSE drip (1 byte / 0.2 s), timeout_s=1: APITimeoutError after {elapsed:.2f}s wall")


def test_an_idle_connection_reconnects_with_last_event_id(
    make_client: MakeClient, server: LoopbackServer, clock: FakeClock, stop: threading.Event
) -> None:
    """Keep-alive comments do not count as events: idle_timeout_s treats the connection as dead."""

    def handler(request: SeenRequest) -> Reply:
        if request.header("Last-Event-ID") is None:
            first = iter([b"id: 1\ndata: a\n\n"])
            pings = every(stop, 0.05, lambda n: b": ping\n\n")
            return sse_reply(x for part in (first, pings) for x in part)
        return sse_reply([b"id: 2\ndata: b\n\n"])

    server.handler = handler
    started = time.monotonic()
    stream = make_client(idle_timeout_s=0.4).events.watch(topic="t")
    assert [e.data for e in stream] == ["a", "b"]
    elapsed = time.monotonic() - started
    assert 0.35 <= elapsed < 2.0, elapsed
    assert stream.reconnects == 1 and server.requests[1].header("Last-Event-ID") == "1"
    assert clock.sleeps == [1.0]


def test_an_idle_connection_without_reconnects_is_a_timeout(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event
) -> None:
    server.handler = lambda r: sse_reply(every(stop, 0.05, lambda n: b": ping\n\n"))
    client = make_client(reconnect=False)
    stream = client.events.watch(topic="t", request_options={"extensions": {"stream_idle_timeout_s": 0.3}})
    with pytest.raises(StreamInterruptedError) as info:
        next(stream)
    assert info.value.reason == "disabled" and isinstance(info.value.__cause__, APITimeoutError)
    assert "idle" in str(info.value.__cause__)


def test_max_duration_bounds_a_live_stream(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event
) -> None:
    """Events keep coming (so it is never idle); the whole stream still ends at max_duration_s."""
    server.handler = lambda r: sse_reply(every(stop, 0.05, lambda n: f"id: {n}\ndata: {n}\n\n".encode()))
    stream = make_client().events.watch(topic="t", request_options={"extensions": {"stream_max_duration_s": 0.5}})
    got: list[str] = []
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="max_duration_s"):
        for event in stream:
            got.append(event.data)
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 1.0, elapsed
    assert len(got) >= 3 and stream.reconnects == 0 and stream.closed


def test_a_call_deadline_lets_a_live_stream_run_past_it(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event
) -> None:
    """timeout_s bounds the time to the first event and each gap, not the stream's length."""
    server.handler = lambda r: sse_reply(every(stop, 0.05, lambda n: f"id: {n}\ndata: {n}\n\n".encode()))
    started = time.monotonic()
    got: list[str] = []
    with make_client().events.watch(topic="t", request_options={"timeout_s": 0.4}) as stream:
        for event in stream:
            got.append(event.data)
            if time.monotonic() - started > 0.8:
                break
    assert len(got) >= 8 and stream.reconnects == 0


def test_a_refused_reconnect_honours_retry_after_capped(
    make_client: MakeClient, server: LoopbackServer, clock: FakeClock
) -> None:
    answers = iter(
        [
            sse_reply(cut_after(b"id: 1\ndata: a\n\n")),
            Reply(503, b"{}", {"Content-Type": "application/json", "Retry-After": "7"}),
            Reply(503, b"{}", {"Content-Type": "application/json", "Retry-After": "3600"}),
            sse_reply([b"id: 2\ndata: b\n\n"]),
        ]
    )
    server.handler = lambda r: next(answers)
    stream = make_client(max_retry_ms=20_000).events.watch(topic="t")
    assert [e.data for e in stream] == ["a", "b"]
    assert clock.sleeps == [1.0, 7.0, 20.0]  # Retry-After wins over the back-off, capped at max_retry_ms
    assert stream.reconnects == 3


def test_a_refused_reconnect_out_of_reconnects_raises_its_status(
    make_client: MakeClient, server: LoopbackServer, clock: FakeClock
) -> None:
    answers = iter([sse_reply(cut_after(b"id: 1\ndata: a\n\n")), Reply(503, b"{}", {"Retry-After": "2"})])
    server.handler = lambda r: next(answers)
    stream = make_client(max_reconnects=1).events.watch(topic="t")
    assert next(stream).data == "a"
    with pytest.raises(APIStatusError, match="503"):
        next(stream)
    assert clock.sleeps == [1.0] and stream.closed


def test_a_reconnect_wait_past_the_deadline_is_not_started(
    make_client: MakeClient, server: LoopbackServer, clock: FakeClock
) -> None:
    """Dropped before any event, with 0.5 s left: a 1 s reconnect delay cannot fit."""
    server.handler = lambda r: sse_reply(cut_after(b": hello\n\n"))
    stream = make_client().events.watch(topic="t", request_options={"timeout_s": 0.5})
    with pytest.raises(APITimeoutError, match="before the first event"):
        next(stream)
    assert clock.sleeps == [] and len(server.requests) == 1


def test_reconnect_delays_come_from_the_backoff_module() -> None:
    settings = StreamingSettings(default_retry_ms=500, max_retry_ms=3000, backoff_factor=3.0)
    assert [settings.retry_delay_s(None, n) for n in range(4)] == [0.5, 1.5, 3.0, 3.0]
    assert settings.retry_delay_s(100, 1) == pytest.approx(0.3)  # the server's retry: is the base
    assert settings.retry_delay_s(None, 0, retry_after_s=-5) == 0.0  # clamped to >= 0
    jittered = StreamingSettings(jitter=0.5)
    assert all(0.5 <= jittered.retry_delay_s(None, 0) <= 1.0 for _ in range(20))


@pytest.mark.parametrize(
    ("features", "path"),
    [
        ({"idle_timeout_s": 0}, "features.streaming.idle_timeout_s"),
        ({"max_duration_s": -1}, "features.streaming.max_duration_s"),
        ({"backoff_factor": 0.5}, "features.streaming.backoff_factor"),
        ({"jitter": 2}, "features.streaming.jitter"),
    ],
)
def test_bad_limits_are_manifest_problems(
    manifest: dict[str, Any], server: LoopbackServer, features: dict[str, Any], path: str
) -> None:
    manifest["features"]["streaming"].update(features)
    with pytest.raises(pc.ManifestError, match=path):
        pc.Client(manifest, base_url=server.url, plugins=[StreamingPlugin()], autoload_plugins=False)
