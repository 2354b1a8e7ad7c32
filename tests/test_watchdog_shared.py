"""One real-time watchdog per client: the default transport's deadline guards and the streaming
plugin's stream limits share ``client.meta.watchdog``; a transport a user passes keeps its own.

Every test counts the ``pristine-watchdog-*`` threads it made (against those alive when it
started), on a real loopback server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pristine_core import APIConnectionError, Client
from pristine_core.pipeline import Request
from pristine_core.transport import RequestsTransport
from pristine_plugins.streaming import ByteStream
from pristine_runtime.clock import SYSTEM_CLOCK
from pristine_runtime.scheduler import Scheduler
from pristine_testing import LoopbackServer, Reply, SeenRequest, json_reply

MANIFEST: dict[str, Any] = {
    "name": "one-watchdog",
    "version": "1",
    "defaults": {"timeout_s": 5},
    "types": {"Out": {"type": "object", "properties": {"ok": {"type": "boolean"}}}},
    "resources": {
        "items": {"get": {"method": "GET", "path": "/items", "response": "Out"}},
        "files": {"download": {"method": "GET", "path": "/files/{name}", "stream": True, "stream_format": "bytes"}},
    },
}


def answer(request: SeenRequest) -> Reply:
    """JSON for ``/items``, a chunked byte body for ``/files/...``."""
    if request.path.startswith("/files/"):
        return Reply(200, iter([b"ab", b"cd"]), {"Content-Type": "application/octet-stream"})
    return json_reply({"ok": True})


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(answer) as srv:
        yield srv


@pytest.fixture
def new_watchdogs() -> Iterator[Any]:
    """A function listing the live ``pristine-watchdog-*`` threads started since the test began."""
    before = {t.ident for t in threading.enumerate()}

    def started() -> list[str]:
        return sorted(
            t.name
            for t in threading.enumerate()
            if t.ident not in before and t.is_alive() and t.name.startswith("pristine-watchdog")
        )

    yield started


def test_a_client_runs_one_watchdog_for_call_deadlines_and_streams(server: LoopbackServer, new_watchdogs: Any) -> None:
    client = Client(MANIFEST, base_url=server.url, plugins=["streaming"])
    try:
        assert client.items.get().ok is True  # no explicit deadline: nothing guarded, no thread
        assert new_watchdogs() == []
        assert client.items.get(request_options={"timeout_s": 5}).ok is True  # a guarded socket
        assert new_watchdogs() == ["pristine-watchdog-one-watchdog"]
        download = client.files.download(name="w.bin", request_options={"timeout_s": 5})
        assert isinstance(download, ByteStream)
        assert download.read() == b"abcd"  # the stream's limits run on the same timer
        assert new_watchdogs() == ["pristine-watchdog-one-watchdog"]
        watchdog = client.meta.watchdog
        transport = client.meta.transport
        assert isinstance(transport, RequestsTransport) and transport.watchdog() is watchdog
    finally:
        client.close()
    assert watchdog.closed and watchdog.live_threads() == []
    assert new_watchdogs() == []


def test_a_transport_passed_in_keeps_its_own_watchdog_and_is_closed_as_before(
    server: LoopbackServer, new_watchdogs: Any
) -> None:
    transport = RequestsTransport()
    client = Client(MANIFEST, base_url=server.url, plugins=[], transport=transport)
    try:
        assert new_watchdogs() == []  # lazy, as before
        assert client.items.get(request_options={"timeout_s": 5}).ok is True
        assert new_watchdogs() == ["pristine-watchdog-transport"]  # its own; the client's never started
        own = transport.watchdog()
    finally:
        client.close()
    assert own.closed and new_watchdogs() == []
    with pytest.raises(APIConnectionError, match="closed"):  # closing the client closes it, as before
        transport.send(Request("GET", f"{server.url}/items", {}, None, 5.0, "default"))


def test_a_watchdog_given_to_a_transport_outlives_the_transport_and_the_client(
    server: LoopbackServer, new_watchdogs: Any
) -> None:
    asked: list[int] = []
    with Scheduler(SYSTEM_CLOCK, max_workers=0, name="pristine-watchdog-mine") as mine:

        def provide() -> Scheduler:
            asked.append(1)
            return mine

        transport = RequestsTransport(watchdog=provide)
        client = Client(MANIFEST, base_url=server.url, plugins=[], transport=transport)
        assert asked == [] and new_watchdogs() == []
        for _ in range(3):
            assert client.items.get(request_options={"timeout_s": 5}).ok is True
        assert asked == [1]  # asked once, on the first guarded send
        assert new_watchdogs() == ["pristine-watchdog-mine"]
        client.close()
        assert not mine.closed  # the transport closes only what it started
        ran = threading.Event()
        assert mine.call_later(0.0, ran.set) is not None and ran.wait(5)
        standalone = RequestsTransport(watchdog=mine)
        request = Request("GET", f"{server.url}/items", {}, None, 5.0, "default")
        assert standalone.send(request, budget_s=5.0).status_code == 200
        standalone.close()
        assert not mine.closed and standalone.watchdog() is mine
    assert new_watchdogs() == []


def test_a_standalone_transport_starts_its_watchdog_on_the_first_guarded_send(
    server: LoopbackServer, new_watchdogs: Any
) -> None:
    transport = RequestsTransport()
    request = Request("GET", f"{server.url}/items", {}, None, 5.0, "default")
    try:
        assert transport.send(request).status_code == 200
        assert new_watchdogs() == []
        assert transport.send(request, budget_s=5.0).status_code == 200
        assert new_watchdogs() == ["pristine-watchdog-transport"]
    finally:
        transport.close()
    assert transport.watchdog().closed and new_watchdogs() == []
