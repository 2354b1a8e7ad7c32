"""Raw byte streams and stream_to_file against a loopback server."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import pristine_core as pc
from pristine_core.errors import APIConnectionError
from pristine_plugins.streaming import ByteStream, stream_to_file
from pristine_testing import LoopbackServer, Reply

from .conftest import cut_after

MakeClient = Callable[..., pc.Client]

PAYLOAD = bytes(range(256)) * 1000  # 256 000 bytes


def test_stream_to_file_with_known_length(make_client: MakeClient, server: LoopbackServer, tmp_path: Path) -> None:
    """A Content-Length body is written whole; progress counts up to the announced total."""
    server.handler = lambda r: Reply(200, PAYLOAD, {"Content-Type": "application/octet-stream"})
    calls: list[tuple[int, int | None]] = []
    download = make_client().events.download(name="weights.bin")
    assert isinstance(download, ByteStream) and download.total == len(PAYLOAD)
    target = tmp_path / "weights.bin"
    written = stream_to_file(
        download, target, progress=lambda done, total: calls.append((done, total)), chunk_size=8192
    )
    assert written == len(PAYLOAD)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(PAYLOAD).digest()
    assert calls[0] == (0, len(PAYLOAD)) and calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    dones = [done for done, _ in calls]
    assert dones == sorted(dones) and len(calls) > 2
    assert all(b - a <= 8192 for a, b in itertools.pairwise(dones))
    assert not (tmp_path / "weights.bin.part").exists()
    assert server.requests[0].header("Accept-Encoding") == "identity"


def test_stream_to_file_writes_incrementally(make_client: MakeClient, server: LoopbackServer, tmp_path: Path) -> None:
    """Chunks reach the disk while the server is still sending; the total is unknown (chunked)."""
    target = tmp_path / "out.bin"
    first_on_disk = threading.Event()
    sizes_seen: list[int] = []

    def body() -> Iterator[bytes]:
        yield b"a" * 1000
        first_on_disk.wait(10)
        yield b"b" * 500

    def progress(done: int, total: int | None) -> None:
        assert total is None
        if done:
            sizes_seen.append((tmp_path / "out.bin.part").stat().st_size)
            first_on_disk.set()  # the server sends the rest only once the first part is on disk

    server.handler = lambda r: Reply(200, body())
    with make_client().events.download(name="x") as download:
        assert download.to_file(target, progress=progress) == 1500
    assert sizes_seen[0] == 1000 and sizes_seen[-1] == 1500
    assert target.read_bytes() == b"a" * 1000 + b"b" * 500


def test_failed_download_leaves_no_file(make_client: MakeClient, server: LoopbackServer, tmp_path: Path) -> None:
    """A connection lost mid-body raises APIConnectionError and removes the partial file."""
    server.handler = lambda r: Reply(200, cut_after(b"x" * 5000))
    target = tmp_path / "broken.bin"
    with pytest.raises(APIConnectionError, match="connection lost"):
        stream_to_file(make_client().events.download(name="b"), target)
    assert list(tmp_path.iterdir()) == []


def test_stream_response_option_on_any_endpoint(
    make_client: MakeClient, server: LoopbackServer, tmp_path: Path
) -> None:
    """The stream_response option returns any endpoint's body unread, as a ByteStream."""
    server.handler = lambda r: Reply(200, [b'{"ok":', b" true}"])
    client = make_client()
    stream = client.events.blob(request_options={"extensions": {"stream_response": True}})
    assert isinstance(stream, ByteStream)
    assert stream.read() == b'{"ok": true}'
    with pytest.raises(RuntimeError):
        stream_to_file(stream, tmp_path / "again.bin")
    stream.close()
    assert client.events.blob() == {"ok": True}  # without the option the body is read and parsed as usual


def test_stream_to_file_from_raw_response_and_sse_stream(
    make_client: MakeClient, server: LoopbackServer, tmp_path: Path
) -> None:
    """stream_to_file accepts a raw Response and an SSE Stream not yet iterated (raw bytes)."""
    server.handler = lambda r: Reply(200, [b"data: a\n\n", b"data: b\n\n"], {"Content-Type": "text/event-stream"})
    client = make_client()
    raw = client.meta.endpoint("events.watch").raw(topic="t")
    assert stream_to_file(raw, tmp_path / "raw.sse") == 18
    stream = client.events.watch(topic="t")
    assert stream_to_file(stream, tmp_path / "stream.sse") == 18
    assert (tmp_path / "raw.sse").read_bytes() == (tmp_path / "stream.sse").read_bytes() == b"data: a\n\ndata: b\n\n"
    with pytest.raises(RuntimeError):
        stream_to_file(stream, tmp_path / "twice.sse")


def test_stream_to_file_from_iterable(tmp_path: Path) -> None:
    """Any iterable of byte chunks can be written; empty chunks are skipped."""
    calls: list[tuple[int, int | None]] = []
    written = stream_to_file([b"ab", b"", b"cde"], tmp_path / "f", progress=lambda d, t: calls.append((d, t)))
    assert written == 5 and (tmp_path / "f").read_bytes() == b"abcde"
    assert calls == [(0, None), (2, None), (5, None)]
