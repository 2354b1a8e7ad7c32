"""Fixtures for the streaming plugin tests: a manifest, a loopback server and a client factory."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pristine_core as pc
from pristine_plugins.streaming import StreamingPlugin
from pristine_runtime.clock import FakeClock
from pristine_testing import LoopbackServer

SSE_HEADERS = {"Content-Type": "text/event-stream"}

MANIFEST: dict[str, Any] = {
    "name": "sse-tests",
    "version": "1",
    "defaults": {"timeout_s": 5},
    "resources": {
        "events": {
            "watch": {
                "method": "GET",
                "path": "/events/{topic}",
                "stream": True,
                "query": {"since": {"type": "integer"}},
            },
            "tokens": {
                "method": "POST",
                "path": "/tokens",
                "request": "TokenRequest",
                "stream": True,
                "stream_event": "Token",
            },
            "download": {
                "method": "GET",
                "path": "/files/{name}",
                "stream": True,
                "stream_format": "bytes",
            },
            "blob": {"method": "GET", "path": "/blob"},
        }
    },
    "types": {
        "TokenRequest": {
            "type": "object",
            "properties": {"prompt": {"type": "string"}, "max_tokens": {"type": "integer"}},
            "required": ["prompt"],
        },
        "Token": {
            "type": "object",
            "properties": {"text": {"type": "string"}, "index": {"type": "integer"}},
            "required": ["text", "index"],
        },
    },
    "features": {"streaming": {"reconnect": True, "max_reconnects": 3}},
}


class Dropped(Exception):
    """Raised inside a server body generator to cut the connection mid-stream."""


def cut_after(*chunks: bytes) -> Iterator[bytes]:
    """Send ``chunks``, then drop the connection without ending the chunked body."""
    yield from chunks
    raise Dropped("connection cut by the test server")


@pytest.fixture
def manifest() -> dict[str, Any]:
    """A fresh copy of the test manifest (tests may edit it)."""
    return copy.deepcopy(MANIFEST)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    """A started loopback server, stopped after the test."""
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock that records reconnect delays instead of sleeping."""
    return FakeClock()


@pytest.fixture
def make_client(
    manifest: dict[str, Any], server: LoopbackServer, clock: FakeClock, client_factory: Callable[..., pc.Client]
) -> Callable[..., pc.Client]:
    """Build clients on the loopback server with only the streaming plugin; ``client_factory`` closes them."""

    def make(**features: Any) -> pc.Client:
        spec = copy.deepcopy(manifest)
        spec["features"]["streaming"].update(features)
        return client_factory(spec, base_url=server.url, plugins=[StreamingPlugin()], clock=clock)

    return make
