"""SSE endpoints against a real loopback server: incremental delivery, typing, reconnects."""

from __future__ import annotations

import json
import pickle
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pristine_core as pc
from pristine_core.errors import APIConnectionError, APIResponseValidationError, APIStatusError, ManifestError
from pristine_plugins.streaming import SSEEvent, Stream, StreamingPlugin, StreamInterruptedError
from pristine_runtime.clock import FakeClock
from pristine_testing import LoopbackServer, Reply, SeenRequest

from .conftest import MANIFEST, SSE_HEADERS, cut_after

MakeClient = Callable[..., pc.Client]


def sse_reply(body: Any) -> Reply:
    """A 200 event-stream reply."""
    return Reply(200, body, SSE_HEADERS)


def test_first_event_arrives_before_the_server_finishes(make_client: MakeClient, server: LoopbackServer) -> None:
    """The server blocks after the first event until the caller has it: no buffering."""
    caller_has_first = threading.Event()
    server_done = threading.Event()
    released: list[bool] = []

    def body() -> Iterator[bytes]:
        yield b"id: 1\ndata: first\n\n"
        released.append(caller_has_first.wait(10))
        yield b"id: 2\ndata: second\n\n"
        server_done.set()

    server.handler = lambda r: sse_reply(body())
    client = make_client()
    with client.events.watch(topic="t") as stream:
        first = next(stream)
        assert not server_done.is_set()
        caller_has_first.set()
        rest = list(stream)
    assert (first.data, first.id) == ("first", "1")
    assert [e.data for e in rest] == ["second"]
    assert released == [True] and server_done.is_set()
    assert stream.closed and stream.last_event_id == "2"


def test_request_headers_and_raw_sse_events(make_client: MakeClient, server: LoopbackServer) -> None:
    """SSE calls ask for text/event-stream, uncompressed; untyped events are SSEEvent objects."""
    server.handler = lambda r: sse_reply([b"event: tick\nid: 5\nretry: 20\ndata: a\ndata: b\n\n"])
    client = make_client()
    stream = client.events.watch(topic="news", since=3)
    assert isinstance(stream, Stream) and stream.response.status_code == 200
    assert list(stream) == [SSEEvent("tick", "a\nb", "5", 20)]
    seen = server.requests[0]
    assert seen.path == "/events/news?since=3"
    assert seen.header("Accept") == "text/event-stream" and seen.header("Accept-Encoding") == "identity"
    assert seen.header("Last-Event-ID") is None
    assert stream.retry_ms == 20 and stream.events_received == 1


def test_typed_events(make_client: MakeClient, server: LoopbackServer) -> None:
    """With stream_event, each event's JSON data is parsed into that type; blank data is skipped."""
    tokens = [{"text": "Hel", "index": 0}, {"text": "lo", "index": 1}]
    frames = [f"data: {json.dumps(t)}\n\n".encode() for t in tokens]
    server.handler = lambda r: sse_reply([frames[0], b": keep-alive\n\ndata:\n\n", frames[1]])
    client = make_client()
    with client.events.tokens(prompt="hi") as stream:
        got = list(stream)
    assert [(t.text, t.index) for t in got] == [("Hel", 0), ("lo", 1)]
    assert type(got[0]).__name__ == "Token"
    assert stream.last_event is not None and stream.last_event.data == json.dumps(tokens[1])
    assert server.requests[0].json() == {"prompt": "hi"}


def test_typed_events_invalid_data(make_client: MakeClient, server: LoopbackServer) -> None:
    """Non-JSON or ill-typed data raises by default and is skipped with on_invalid: skip."""
    body = [b"data: [DONE]\n\n", b'data: {"text": 1}\n\n', b'data: {"text": "ok", "index": 2}\n\n']
    server.handler = lambda r: sse_reply(list(body))
    strict = make_client().events.tokens(prompt="p")
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        next(strict)
    assert strict.closed
    lenient = make_client(on_invalid="skip").events.tokens(prompt="p")
    assert [t.text for t in lenient] == ["ok"]


def test_sse_view_of_a_typed_stream(make_client: MakeClient, server: LoopbackServer) -> None:
    """stream.sse() yields the raw events even when the endpoint declares a type."""
    server.handler = lambda r: sse_reply([b"data: [DONE]\n\n"])
    stream = make_client().events.tokens(prompt="p")
    assert [e.data for e in stream.sse()] == ["[DONE]"]
    with pytest.raises(RuntimeError):
        stream.sse()


def test_reconnect_with_last_event_id_and_server_retry(
    manifest: dict[str, Any], server: LoopbackServer, clock: FakeClock
) -> None:
    """A mid-stream drop re-issues the same call with Last-Event-ID after the server's retry delay."""
    seen_events: list[pc.Event] = []

    def handler(request: SeenRequest) -> Reply:
        if request.header("Last-Event-ID") is None:
            return sse_reply(cut_after(b"retry: 250\n\n", b"id: 1\ndata: a\n\n", b"id: 2\ndata: b\n\n"))
        return sse_reply([f"id: 3\ndata: c after {request.header('Last-Event-ID')}\n\n".encode()])

    class Observer:
        @pc.hookimpl
        def pristine_on_event(self, event: pc.Event) -> None:
            seen_events.append(event)

    server.handler = handler
    plugins = [StreamingPlugin(), Observer()]
    with pc.Client(manifest, base_url=server.url, plugins=plugins, autoload_plugins=False, clock=clock) as client:
        with client.events.tokens(prompt="again", max_tokens=3) as stream:
            got = list(stream.sse())
    assert [(e.data, e.id) for e in got] == [("a", "1"), ("b", "2"), ("c after 2", "3")]
    first, second = server.requests
    assert second.header("Last-Event-ID") == "2" and first.header("Last-Event-ID") is None
    assert second.method == "POST" and second.json() == first.json() == {"prompt": "again", "max_tokens": 3}
    assert clock.sleeps == [0.25]
    assert stream.reconnects == 1 and stream.last_event_id == "3"
    reconnects = [e for e in seen_events if e.name == "stream.reconnect"]
    assert len(reconnects) == 1 and reconnects[0].fields["last_event_id"] == "2"


def test_reconnect_keeps_path_and_query(make_client: MakeClient, server: LoopbackServer, clock: FakeClock) -> None:
    """The re-issued call has the same path and query; without retry: the default delay is used."""

    def handler(request: SeenRequest) -> Reply:
        if request.header("Last-Event-ID") is None:
            return sse_reply(cut_after(b"id: x1\ndata: a\n\n"))
        return sse_reply([b"data: b\n\n"])

    server.handler = handler
    stream = make_client(default_retry_ms=1500).events.watch(topic="a/b", since=7)
    assert [e.data for e in stream] == ["a", "b"]
    assert [r.path for r in server.requests] == ["/events/a%2Fb?since=7"] * 2
    assert clock.sleeps == [1.5]
    assert stream.last_event_id == ""  # the resumed connection's event carried no id, per the rules


def test_read_timeout_mid_stream_reconnects(make_client: MakeClient, server: LoopbackServer) -> None:
    """A server that goes silent past the read timeout is treated like a drop and resumed."""
    release = threading.Event()

    def stalled() -> Iterator[bytes]:
        yield b"id: 1\ndata: a\n\n"
        release.wait(10)  # silent until the test ends

    def handler(request: SeenRequest) -> Reply:
        if request.header("Last-Event-ID") is None:
            return sse_reply(stalled())
        return sse_reply([b"id: 2\ndata: b\n\n"])

    server.handler = handler
    try:
        stream = make_client().events.watch(topic="t", request_options={"timeout_s": 0.3})
        assert [e.data for e in stream] == ["a", "b"]
        assert stream.reconnects == 1 and server.requests[1].header("Last-Event-ID") == "1"
    finally:
        release.set()


def test_events_without_id_cannot_resume(make_client: MakeClient, server: LoopbackServer) -> None:
    """After events without any id, a drop raises 'cannot resume' instead of replaying."""
    server.handler = lambda r: sse_reply(cut_after(b"data: a\n\n", b"data: b\n\n"))
    stream = make_client().events.watch(topic="t")
    got: list[str] = []
    with pytest.raises(StreamInterruptedError, match="no event id") as info:
        for event in stream:
            got.append(event.data)
    assert got == ["a", "b"] and len(server.requests) == 1
    error = info.value
    assert error.reason == "no_id" and error.events == 2 and not error.retryable
    assert isinstance(error, APIConnectionError) and isinstance(error.__cause__, APIConnectionError)
    assert pickle.loads(pickle.dumps(error)).reason == "no_id"
    assert stream.closed


def test_drop_before_any_event_restarts_then_gives_up(
    make_client: MakeClient, server: LoopbackServer, clock: FakeClock
) -> None:
    """With nothing delivered a restart is safe; reconnects stop at max_reconnects."""
    server.handler = lambda r: sse_reply(cut_after(b": hello\n\n"))
    stream = make_client(max_reconnects=2).events.watch(topic="t")
    with pytest.raises(StreamInterruptedError, match="gave up after 2") as info:
        list(stream)
    assert info.value.reason == "exhausted" and info.value.reconnects == 2
    # pristine_runtime.backoff: the second reconnect in a row without an event waits twice as long.
    assert len(server.requests) == 3 and clock.sleeps == [1.0, 2.0]


def test_reconnect_disabled(make_client: MakeClient, server: LoopbackServer) -> None:
    """reconnect: false surfaces the drop at once; a per-call option can turn it back on."""
    server.handler = lambda r: sse_reply(cut_after(b"id: 1\ndata: a\n\n"))
    client = make_client(reconnect=False)
    with pytest.raises(StreamInterruptedError) as info:
        list(client.events.watch(topic="t"))
    assert info.value.reason == "disabled" and len(server.requests) == 1
    stream = client.events.watch(
        topic="t", request_options={"extensions": {"stream_reconnect": True, "stream_max_reconnects": 1}}
    )
    with pytest.raises(StreamInterruptedError, match="gave up after 1"):
        list(stream)
    assert server.requests[-1].header("Last-Event-ID") == "1"


def test_reconnect_answered_204_ends_the_stream(make_client: MakeClient, server: LoopbackServer) -> None:
    """A 204 to a reconnect means the server has nothing more: the stream ends cleanly."""

    def handler(request: SeenRequest) -> Reply:
        if request.header("Last-Event-ID"):
            return Reply(204)
        return sse_reply(cut_after(b"id: 1\ndata: a\n\n"))

    server.handler = handler
    assert [e.data for e in make_client().events.watch(topic="t")] == ["a"]
    assert len(server.requests) == 2


def test_reconnect_answered_with_error_status(make_client: MakeClient, server: LoopbackServer) -> None:
    """An error status on reconnect raises the mapped status error."""

    def handler(request: SeenRequest) -> Reply:
        if request.header("Last-Event-ID"):
            return Reply(404, b'{"message": "gone"}', {"Content-Type": "application/json"})
        return sse_reply(cut_after(b"id: 1\ndata: a\n\n"))

    server.handler = handler
    stream = make_client().events.watch(topic="t")
    assert next(stream).data == "a"
    with pytest.raises(APIStatusError) as info:
        next(stream)
    assert info.value.status_code == 404 and stream.closed


def test_initial_error_status_raises_before_streaming(make_client: MakeClient, server: LoopbackServer) -> None:
    """An error status on the first request raises from the call itself."""
    server.handler = lambda r: Reply(500, b"boom")
    with pytest.raises(APIStatusError):
        make_client().events.watch(topic="t")


def test_resume_from_a_known_id(make_client: MakeClient, server: LoopbackServer) -> None:
    """The last_event_id option sends Last-Event-ID on the first request."""
    server.handler = lambda r: sse_reply([b"data: x\n\n"])
    list(make_client().events.watch(topic="t", request_options={"extensions": {"last_event_id": "17"}}))
    assert server.requests[0].header("Last-Event-ID") == "17"


def test_close_mid_stream_releases_and_stops(make_client: MakeClient, server: LoopbackServer) -> None:
    """close() ends iteration; a later next() raises StopIteration and nothing reconnects."""
    gate = threading.Event()

    def body() -> Iterator[bytes]:
        yield b"id: 1\ndata: a\n\n"
        gate.wait(10)
        yield b"data: b\n\n"

    server.handler = lambda r: sse_reply(body())
    stream = make_client().events.watch(topic="t")
    assert next(stream).data == "a"
    stream.close()
    gate.set()
    with pytest.raises(StopIteration):
        next(stream)
    assert stream.closed and len(server.requests) == 1
    assert "closed" in repr(stream)


def test_raw_call_returns_the_streamed_response(make_client: MakeClient, server: LoopbackServer) -> None:
    """.raw() on an SSE endpoint gives the unread Response, readable incrementally."""
    server.handler = lambda r: sse_reply([b"data: a\n\n", b"data: b\n\n"])
    response = make_client().meta.endpoint("events.watch").raw(topic="t")
    assert isinstance(response, pc.Response)
    assert b"".join(response.iter_bytes()) == b"data: a\n\ndata: b\n\n"
    response.close()


@pytest.mark.parametrize(
    ("block", "path"),
    [
        ({"reconnect": "yes"}, "features.streaming.reconnect"),
        ({"max_reconnects": -1}, "features.streaming.max_reconnects"),
        ({"chunk_size": 0}, "features.streaming.chunk_size"),
        ({"on_invalid": "ignore"}, "features.streaming.on_invalid"),
        ({"reconnects": 3}, "features.streaming.reconnects"),
    ],
)
def test_manifest_block_validation(block: dict[str, Any], path: str) -> None:
    """Bad features.streaming values are reported with their JSON path."""
    spec = json.loads(json.dumps(MANIFEST))
    spec["features"]["streaming"] = block
    with pytest.raises(ManifestError) as info:
        pc.Client(spec, base_url="http://127.0.0.1:9", plugins=[StreamingPlugin()], autoload_plugins=False)
    assert path in [p for p, _ in info.value.problems]


def test_manifest_endpoint_validation() -> None:
    """stream_format and stream_event only make sense on stream endpoints."""
    spec = json.loads(json.dumps(MANIFEST))
    blob = spec["resources"]["events"]["blob"]
    blob["stream_format"] = "bytes"
    blob["stream_event"] = "Token"
    spec["resources"]["events"]["download"]["stream_format"] = "lines"
    with pytest.raises(ManifestError) as info:
        pc.Client(spec, base_url="http://127.0.0.1:9", plugins=[StreamingPlugin()], autoload_plugins=False)
    assert {p for p, _ in info.value.problems} == {"resources.events.download.stream_format"}
    spec["resources"]["events"]["download"]["stream_format"] = "bytes"
    with pytest.raises(ManifestError) as info:
        pc.Client(spec, base_url="http://127.0.0.1:9", plugins=[StreamingPlugin()], autoload_plugins=False)
    assert {p for p, _ in info.value.problems} == {
        "resources.events.blob.stream_format",
        "resources.events.blob.stream_event",
    }
