"""Raw byte streams (``ByteStream``, ``stream_response``, ``raw_chunks()``) under a call's deadline.

A call's explicit ``timeout_s`` bounds the time to the first byte and every gap between chunks
while the reader waits (not the body's length, nor the time the reader spends with a chunk).
The limits cut real sockets from the client's watchdog, so these tests take fractions of a
second of wall time against a loopback server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pristine_core as pc
from pristine_core.errors import APITimeoutError
from pristine_plugins.streaming import ByteStream, Stream, stream_to_file
from pristine_testing import LoopbackServer, Reply

from .conftest import SSE_HEADERS

MakeClient = Callable[..., pc.Client]
OCTETS = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    """Set at the end of a test: endless or stalled server bodies stop."""
    event = threading.Event()
    yield event
    event.set()


def stalled(stop: threading.Event, first: bytes = b"", then_wait_s: float = 30.0) -> Iterator[bytes]:
    """Send ``first`` (if any), then nothing until the test ends."""
    if first:
        yield first
    stop.wait(then_wait_s)
    yield b"late"


def drip(stop: threading.Event, count: int, interval_s: float) -> Iterator[bytes]:
    """``count`` single bytes, one every ``interval_s``."""
    for _ in range(count):
        if stop.wait(interval_s):
            return
        yield b"x"


def test_no_first_byte_by_the_deadline_is_a_timeout(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event, capsys: pytest.CaptureFixture[str]
) -> None:
    """Headers at once, then silence: the first byte must arrive by the call's deadline."""
    server.handler = lambda r: Reply(200, stalled(stop), OCTETS)
    client = make_client()
    started = time.monotonic()
    download = client.events.download(name="w.bin", request_options={"timeout_s": 0.6})
    assert isinstance(download, ByteStream)
    with pytest.raises(APITimeoutError, match=r"events\.download: call deadline reached before the first byte"):
        download.read()
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 1.5, elapsed
    watchdog = client.meta.watchdog
    client.close()
    assert watchdog.closed and watchdog.live_threads() == []
    with capsys.disabled():
        print(f"\n[deadlines] ByteStream, no first byte, timeout_s=0.6: APITimeoutError after {elapsed:.2f}s wall")


def test_an_idle_gap_between_chunks_is_a_timeout(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event, capsys: pytest.CaptureFixture[str]
) -> None:
    """One chunk, then a stall longer than timeout_s: the gap ends the read, not a socket timeout."""
    server.handler = lambda r: Reply(200, stalled(stop, b"head"), OCTETS)
    download = make_client().events.download(name="w.bin", request_options={"timeout_s": 0.5})
    got: list[bytes] = []
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match=r"no data for 0.5s \(idle timeout\)"):
        for chunk in download:
            got.append(chunk)
    elapsed = time.monotonic() - started
    assert got == [b"head"] and 0.4 <= elapsed < 1.5, elapsed
    with capsys.disabled():
        print(f"\n[deadlines] ByteStream, one chunk then a stall, timeout_s=0.5: APITimeoutError after {elapsed:.2f}s")


def test_a_steady_drip_may_outlast_the_timeout(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event
) -> None:
    """timeout_s bounds the first byte and each gap, not the length of a body that keeps coming."""
    server.handler = lambda r: Reply(200, drip(stop, 16, 0.05), OCTETS)
    started = time.monotonic()
    body = make_client().events.download(name="w.bin", request_options={"timeout_s": 0.4}).read()
    assert body == b"x" * 16 and time.monotonic() - started > 0.6


def test_a_slow_reader_is_not_an_idle_server(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event
) -> None:
    """Time the caller spends holding a chunk does not count as a gap."""
    server.handler = lambda r: Reply(200, [b"a", b"b", b"c"], OCTETS)
    download = make_client().events.download(name="w.bin", request_options={"timeout_s": 0.2})
    got = []
    for chunk in download.iter_bytes(1):
        got.append(chunk)
        time.sleep(0.3)
    assert got == [b"a", b"b", b"c"]


def test_stream_response_option_is_bounded_too(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event
) -> None:
    server.handler = lambda r: Reply(200, stalled(stop, b"{"), {"Content-Type": "application/json"})
    stream = make_client().events.blob(request_options={"timeout_s": 0.4, "extensions": {"stream_response": True}})
    assert isinstance(stream, ByteStream)
    with pytest.raises(APITimeoutError, match=r"events\.blob: no data"):
        stream.read()


def test_sse_raw_chunks_are_bounded_by_the_deadline(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event
) -> None:
    """``Stream.raw_chunks()`` carries no events, but its bytes keep the call's limits."""
    server.handler = lambda r: Reply(200, stalled(stop), SSE_HEADERS)
    stream = make_client().events.watch(topic="t", request_options={"timeout_s": 0.5})
    assert isinstance(stream, Stream)
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="before the first byte"):
        list(stream.raw_chunks())
    assert time.monotonic() - started < 1.5


def test_stream_to_file_times_out_and_leaves_no_file(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event, tmp_path: Path
) -> None:
    server.handler = lambda r: Reply(200, stalled(stop, b"partial"), OCTETS)
    target = tmp_path / "w.bin"
    download = make_client().events.download(name="w.bin", request_options={"timeout_s": 0.4})
    with pytest.raises(APITimeoutError, match="idle timeout"):
        stream_to_file(download, target)
    assert list(tmp_path.iterdir()) == []


def test_the_idle_option_applies_without_a_call_deadline(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event
) -> None:
    """No explicit timeout_s: only the idle limit (here the per-call option) bounds the gaps."""
    server.handler = lambda r: Reply(200, stalled(stop, b"head"), OCTETS)
    download = make_client().events.download(
        name="w.bin", request_options={"extensions": {"stream_idle_timeout_s": 0.3}}
    )
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match=r"no data for 0\.3s"):
        download.read()
    assert time.monotonic() - started < 1.2


def test_a_reader_starting_after_the_deadline_gets_one_idle_window(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event
) -> None:
    """The body was sent in time; reading it late still works."""
    server.handler = lambda r: Reply(200, [b"all", b"here"], OCTETS)
    download = make_client().events.download(name="w.bin", request_options={"timeout_s": 0.2})
    time.sleep(0.3)
    assert download.read() == b"allhere"


def test_max_duration_bounds_a_body_that_keeps_coming(
    make_client: MakeClient, server: LoopbackServer, stop: threading.Event
) -> None:
    server.handler = lambda r: Reply(200, drip(stop, 1000, 0.05), OCTETS)
    download = make_client().events.download(
        name="w.bin", request_options={"extensions": {"stream_max_duration_s": 0.4}}
    )
    got: list[bytes] = []
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="max_duration_s"):
        for chunk in download:
            got.append(chunk)
    elapsed = time.monotonic() - started
    assert 0.35 <= elapsed < 1.0, elapsed
    assert 3 <= len(got) < 20
